import { setTimeout as sleep } from 'node:timers/promises';
import { readSplit } from '../../lib/dataset';
import { FACE_PIXELS } from '../../lib/preprocess';
import { encodePng48 } from '../../lib/face-png';

export interface LoadStats {
  sent: number;
  ok: number;
  failed: number;
  /** Answers by `<generation>:<slot>` (the x-ferops-generation header of a fleet replica; `-` from a standalone one). */
  answered: Record<string, number>;
  /** Failures by cause: the HTTP status, or the socket error of a request that got no answer. */
  failures: Record<string, number>;
}

/**
 * Sends real faces (a dataset's test crops, `detect=false`) to /v1/predict at a steady rate until stopped, so a
 * canary rollout's analysis windows have traffic to judge. Counts answers: a rollout must not fail any.
 */
export function startLoad(inferenceUrl: string, datasetUri: string, ratePerSecond = 10): { stop(): Promise<LoadStats> } {
  const test = readSplit(datasetUri, 'test');
  const stats: LoadStats = { sent: 0, ok: 0, failed: 0, answered: {}, failures: {} };
  let running = true;
  const loop = (async () => {
    // Until a stable model serves, every answer is 503 by design: there is nothing to measure yet.
    while (running && !(await fetch(`${inferenceUrl}/readyz`).then((r) => r.ok, () => false))) await sleep(500);
    for (let i = 0; running; i = (i + 1) % test.count) {
      const body = await encodePng48(test.images.subarray(i * FACE_PIXELS, (i + 1) * FACE_PIXELS));
      stats.sent++;
      let cause = '';
      const res = await fetch(`${inferenceUrl}/v1/predict?detect=false`, { method: 'POST', headers: { 'content-type': 'image/png' }, body }).catch((e: Error & { cause?: Error }) => {
        cause = e.cause?.message ?? e.message;
        return undefined;
      });
      if (res?.ok) {
        stats.ok++;
        const slot = ((await res.json().catch(() => ({}))) as { slot?: string }).slot ?? '?';
        const key = `${res.headers.get('x-ferops-generation') ?? '-'}:${slot}`;
        stats.answered[key] = (stats.answered[key] ?? 0) + 1;
      } else {
        stats.failed++;
        const key = res ? String(res.status) : cause;
        stats.failures[key] = (stats.failures[key] ?? 0) + 1;
        await res?.arrayBuffer().catch(() => undefined);
      }
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
