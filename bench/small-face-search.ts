/**
 * What the small-face search (FEROPS_DETECT_MIN_FACE=24) costs a photo over HTTP, issue #22's budget: a one-face
 * 640x480 JPEG under 25 ms p50 at concurrency 1. In one run, interleaved rounds (bench/rounds.ts), four services
 * on the demo bench model:
 * - off, 1 worker: no small-face search, FEROPS_CV_WORKERS=1 (the default on 2 cores until 2026-12-05);
 * - off: the default, no small-face search, its default workers (at least 2);
 * - same worker: the search on, FEROPS_CV_WORKERS=1, so it runs after the detector on the photo's own worker;
 * - beside: the search on with the default workers, so it runs on another worker while the photo's own worker runs
 *   the detector and the landmarks (what `?minFace=24` gets on the default service).
 *   node --import tsx bench/small-face-search.ts [seconds=4] [rounds=3]
 * Results: docs/inference.md#landmarks-and-alignment.
 */
import { cpus, loadavg } from 'node:os';
import { defaultBenchModel } from './bench-models';
import { autocannonRun, startService } from './inference-http';
import { benchPhoto } from './real-inputs';
import { fmtSpread, interleaved, spread } from './rounds';
import { INFERENCE_NODE_FLAGS } from '../services/inference/node-flags';

const VARIANTS: Record<string, Record<string, string>> = {
  'off, 1 worker': { FEROPS_CV_WORKERS: '1' },
  off: {},
  'same worker': { FEROPS_DETECT_MIN_FACE: '24', FEROPS_CV_WORKERS: '1' },
  beside: { FEROPS_DETECT_MIN_FACE: '24' },
};
const CONCURRENCY = [1, 8];

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 4);
  const rounds = Number(process.argv[3] ?? 3);
  const model = defaultBenchModel();
  const photo = await benchPhoto();
  const services = Object.fromEntries(
    await Promise.all(Object.entries(VARIANTS).map(async ([name, env]) => [name, await startService(model.dir, INFERENCE_NODE_FLAGS, env)] as const)),
  );
  const predict = (name: string, c: number, s: number) => autocannonRun(`${services[name].url}/v1/predict`, photo, 'image/jpeg', c, s);
  try {
    // Warm each service up (V8's optimisation, the workers' first collections) before anything is measured.
    for (const name of Object.keys(VARIANTS)) await predict(name, 2, 3);
    console.log(`# ${new Date().toISOString()}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${cpus().length} cores, ${cpus()[0]?.model ?? ''}`);
    console.log(`# ${seconds} s cells, ${rounds} interleaved rounds, medians (range); model ${model.label}; photo 640x480 JPEG, one face`);
    console.log('| small-face search | concurrency | photos/s | p50 ms | p99 ms | failed |');
    console.log('|---|---|---|---|---|---|');
    for (const c of CONCURRENCY) {
      const cells = await interleaved(rounds, Object.fromEntries(Object.keys(VARIANTS).map((name) => [name, () => predict(name, c, seconds)])));
      for (const [name, runs] of Object.entries(cells)) {
        const of = (k: 'rps' | 'p50' | 'p99') => fmtSpread(spread(runs.map((r) => r[k])));
        console.log(`| ${name} | ${c} | ${of('rps')} | ${of('p50')} | ${of('p99')} | ${runs.reduce((a, r) => a + r.failed, 0)} |`);
      }
    }
  } finally {
    await Promise.all(Object.values(services).map((s) => s.stop()));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
