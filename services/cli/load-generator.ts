import { setTimeout as sleep } from 'node:timers/promises';
import { readSplit } from '../../lib/dataset';
import { FACE_PIXELS } from '../../lib/preprocess';
import { encodePng48 } from '../../lib/face-png';

export interface LoadStats { sent: number; ok: number; failed: number }

/**
 * Sends real faces (a dataset's test crops, `detect=false`) to /v1/predict at a steady rate until stopped, so a
 * canary rollout's analysis windows have traffic to judge. Counts answers: a rollout must not fail any.
 */
export function startLoad(inferenceUrl: string, datasetUri: string, ratePerSecond = 10): { stop(): Promise<LoadStats> } {
  const test = readSplit(datasetUri, 'test');
  const stats: LoadStats = { sent: 0, ok: 0, failed: 0 };
  let running = true;
  const loop = (async () => {
    // Until a stable model serves, every answer is 503 by design: there is nothing to measure yet.
    while (running && !(await fetch(`${inferenceUrl}/readyz`).then((r) => r.ok, () => false))) await sleep(500);
    for (let i = 0; running; i = (i + 1) % test.count) {
      const body = await encodePng48(test.images.subarray(i * FACE_PIXELS, (i + 1) * FACE_PIXELS));
      stats.sent++;
      const res = await fetch(`${inferenceUrl}/v1/predict?detect=false`, { method: 'POST', headers: { 'content-type': 'image/png' }, body }).catch(() => undefined);
      if (res?.ok) stats.ok++;
      else stats.failed++;
      await res?.arrayBuffer().catch(() => undefined);
      await sleep(1000 / ratePerSecond);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return stats;
    },
  };
}
