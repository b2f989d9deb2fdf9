/**
 * Sustained crop load on the inference service, with and without its node flags, in one run:
 *   node --import tsx bench/inference-soak.ts [windows=12] [concurrency=8] [rounds=3]
 * Each variant gets a fresh service and `windows` back-to-back 3 s autocannon windows of POST /v1/predict?detect=false
 * (the real crops of bench/real-inputs.ts), counting the V8 collections the service itself reports on /metrics
 * (prom-client's nodejs_gc_duration_seconds: major = mark-compact, minor = scavenge). The 3 s cells of
 * inference-http.ts end before what this is for shows up: after ~10 s of load, Node's default 16 MB young
 * generation made V8 run back-to-back full collections (services/inference/node-flags.ts). Those come and go, so
 * each variant runs `rounds` times, interleaved, and the table gives the median and range over the rounds of its
 * mean throughput, its median and worst window p99 and its mark-compacts, then the per-round ratios.
 */
import { cpus, loadavg } from 'node:os';
import { INFERENCE_NODE_FLAGS } from '../services/inference/node-flags';
import { defaultBenchModel } from './bench-models';
import { autocannonRun, startService } from './inference-http';
import { realCrops } from './real-inputs';
import { fmtSpread, interleaved, ratioSpread, spread } from './rounds';

const WINDOW_S = 3;

/** Cumulative collections by kind, from the service's own /metrics. */
async function gcCounts(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^ferops_inference_nodejs_gc_duration_seconds_count\{kind="(\w+)"\} (\d+)/gm)) counts[m[1]] = Number(m[2]);
  return counts;
}

interface Window {
  rps: number;
  p50: number;
  p99: number;
  major: number;
  minor: number;
}

async function soak(modelDir: string, flags: readonly string[], crop: readonly Buffer[], windows: number, concurrency: number): Promise<Window[]> {
  const service = await startService(modelDir, flags);
  try {
    const out: Window[] = [];
    let before = await gcCounts(service.url);
    for (let i = 0; i < windows; i++) {
      const r = await autocannonRun(`${service.url}/v1/predict?detect=false`, crop, 'image/png', concurrency, WINDOW_S);
      if (r.failed > 0) throw new Error(`${r.failed} requests failed in window ${i + 1}`);
      const after = await gcCounts(service.url);
      out.push({ rps: r.rps, p50: r.p50, p99: r.p99, major: (after.major ?? 0) - (before.major ?? 0), minor: (after.minor ?? 0) - (before.minor ?? 0) });
      before = after;
    }
    return out;
  } finally {
    await service.stop();
  }
}

interface Summary {
  rps: number;
  p99: number;
  worst: number;
  major: number;
}

const summarise = (ws: Window[]): Summary => ({
  rps: ws.reduce((sum, w) => sum + w.rps, 0) / ws.length,
  p99: spread(ws.map((w) => w.p99)).median,
  worst: Math.max(...ws.map((w) => w.p99)),
  major: ws.reduce((sum, w) => sum + w.major, 0),
});

async function main(): Promise<void> {
  const windows = Number(process.argv[2] ?? 12);
  const concurrency = Number(process.argv[3] ?? 8);
  const rounds = Number(process.argv[4] ?? 3);
  const model = defaultBenchModel();
  const crops = await realCrops();
  console.log(`# ${new Date().toISOString()}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${cpus().length} cores`);
  console.log(`# ${crops.length} real crops at concurrency ${concurrency}, ${windows} windows of ${WINDOW_S} s per variant and round, ${rounds} interleaved rounds (a fresh service each), model ${model.label}`);
  const flagged = INFERENCE_NODE_FLAGS.join(' ');
  const runs = await interleaved(rounds, {
    'node defaults': async () => summarise(await soak(model.dir, [], crops, windows, concurrency)),
    [flagged]: async () => summarise(await soak(model.dir, INFERENCE_NODE_FLAGS, crops, windows, concurrency)),
  });
  console.log('| variant | mean req/s | window p99 median ms | worst window p99 ms | mark-compacts |');
  console.log('|---|---|---|---|---|');
  for (const [name, xs] of Object.entries(runs)) {
    const col = (k: keyof Summary) => fmtSpread(spread(xs.map((x) => x[k])));
    console.log(`| ${name} | ${col('rps')} | ${col('p99')} | ${col('worst')} | ${col('major')} |`);
  }
  const [b, f] = [runs['node defaults'], runs[flagged]];
  const ratio = (k: keyof Summary) => fmtSpread(ratioSpread(f.map((x) => x[k]), b.map((x) => x[k])), 2);
  console.log(`# flagged / default, per round: throughput ${ratio('rps')}, window p99 median ${ratio('p99')}, worst-window p99 ${ratio('worst')}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
