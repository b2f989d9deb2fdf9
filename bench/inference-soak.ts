/**
 * Sustained crop load on the inference service, with and without its node flags, in one run:
 *   node --import tsx bench/inference-soak.ts [windows=12] [concurrency=8]
 * Each variant gets a fresh service and `windows` back-to-back 3 s autocannon windows of POST /v1/predict?detect=false
 * (48x48 PNG). Per window it prints req/s, p50/p99 and the V8 collections the service itself reports on /metrics
 * (prom-client's nodejs_gc_duration_seconds: major = mark-compact, minor = scavenge). The 3 s cells of
 * inference-http.ts end before what this is for shows up: after ~10 s of load, Node's default 16 MB young
 * generation made V8 run back-to-back full collections (services/inference/node-flags.ts). Those come and go, so the
 * summary gives each variant's mean throughput, its median and worst window p99 and its mark-compacts, and the ratios
 * flagged / default.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { FACE_SIZE } from '../lib/labels';
import sharp from 'sharp';
import { INFERENCE_NODE_FLAGS } from '../services/inference/node-flags';
import { defaultBenchModel } from './bench-models';
import { autocannonRun, startService } from './inference-http';

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

async function soak(modelDir: string, flags: readonly string[], crop: Buffer, windows: number, concurrency: number): Promise<Window[]> {
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const windows = Number(process.argv[2] ?? 12);
  const concurrency = Number(process.argv[3] ?? 8);
  const model = defaultBenchModel();
  const crop = await sharp({ create: { width: FACE_SIZE, height: FACE_SIZE, channels: 3, background: '#777' } }).png().toBuffer();
  console.log(`# ${new Date().toISOString()}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${cpus().length} cores`);
  console.log(`# crops at concurrency ${concurrency}, ${windows} windows of ${WINDOW_S} s per variant, model ${model.label}`);
  const variants: [string, readonly string[]][] = [['node defaults', []], [INFERENCE_NODE_FLAGS.join(' '), INFERENCE_NODE_FLAGS]];
  const summaries = [];
  for (const [name, flags] of variants) {
    const ws = await soak(model.dir, flags, crop, windows, concurrency);
    console.log(`\n${name}:\n| window | req/s | p50/p99 ms | mark-compacts | scavenges |\n|---|---|---|---|---|`);
    ws.forEach((w, i) => console.log(`| ${i + 1} | ${w.rps.toFixed(0)} | ${w.p50}/${w.p99} | ${w.major} | ${w.minor} |`));
    summaries.push({
      name,
      rps: ws.reduce((sum, w) => sum + w.rps, 0) / ws.length,
      p99: median(ws.map((w) => w.p99)),
      worst: Math.max(...ws.map((w) => w.p99)),
      major: ws.reduce((sum, w) => sum + w.major, 0),
    });
  }
  console.log();
  for (const x of summaries) console.log(`# ${x.name}: mean ${x.rps.toFixed(0)} req/s, window p99 median ${x.p99} ms, worst ${x.worst} ms, ${x.major} mark-compacts`);
  const [b, f] = summaries;
  console.log(`# flagged / default: throughput ${(f.rps / b.rps).toFixed(2)}x, worst-window p99 ${(f.worst / b.worst).toFixed(2)}x`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
