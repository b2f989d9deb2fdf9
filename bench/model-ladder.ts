/**
 * The model size ladder: what the service does on this machine with each model size a user can choose, fp32 and int8.
 *   node --import tsx bench/model-ladder.ts [seconds=5] [rounds=3] [models=demo,vit-s16,vit-b16]
 * Models: bench/bench-models.ts (demo, ViT-S/16, ViT-B/16; the trainer's own graphs, random weights, int8 by the
 * trainer's quantize_int8). For each model both variants are served at once, each by its own service child
 * (FEROPS_MODEL_VARIANT), so a model's rounds interleave fp32 and int8 without a restart per cell. Each cell posts
 * the 24 real crops (bench/real-inputs.ts) to /v1/predict?detect=false at one concurrency, for `seconds` or long
 * enough for MIN_ANSWERS answers at concurrency 1, whichever is longer (a ViT-B/16 face costs far more than a demo one).
 * Headlines are medians of the rounds with their range. Also printed: file sizes, the services' RSS, and int8's top-1
 * agreement with fp32 on the crops. Writes docs/images/model-ladder.png.
 */
import { statSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../lib/paths';
import { LABELS } from '../lib/labels';
import { MODEL_FILES, type ModelVariant } from '../lib/onnx/model-dir';
import { BENCH_MODELS, benchModel, type BenchModelName } from './bench-models';
import { autocannonRun, startService } from './inference-http';
import { type LadderRow, writeLadderPlot } from './model-ladder-plot';
import { realCrops } from './real-inputs';
import { fmtSpread, interleaved, ratioSpread, spread } from './rounds';

// Concurrency 32 only where a face is cheap: for ViT-B/16 it would only measure a queue many seconds deep.
const MODELS: { name: BenchModelName; concurrency: number[]; timeoutS: number }[] = [
  { name: 'demo', concurrency: [1, 8, 32], timeoutS: 10 },
  { name: 'vit-s16', concurrency: [1, 8, 32], timeoutS: 60 },
  { name: 'vit-b16', concurrency: [1, 8], timeoutS: 60 },
];
const VARIANTS: ModelVariant[] = ['fp32', 'int8'];
const MIN_ANSWERS = 60; // per cell, so that a p99 rests on more than a handful of answers
const PLOT = join(REPO_ROOT, 'docs', 'images', 'model-ladder.png');

type Service = Awaited<ReturnType<typeof startService>>;
interface Cell {
  rps: number;
  p50: number;
  p99: number;
  failed: number;
}

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const mb = (bytes: number) => bytes / 1e6;

/** Each crop once, in order: the top-1 class of the answer, its margin over the second, and the latency. */
async function classifyCrops(url: string, crops: readonly Buffer[]): Promise<{ top1: number[]; margin: number[]; ms: number[] }> {
  const out = { top1: [] as number[], margin: [] as number[], ms: [] as number[] };
  for (const crop of crops) {
    const t0 = performance.now();
    const res = await fetch(`${url}/v1/predict?detect=false`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: crop });
    const body = (await res.json()) as { faces?: { probabilities: Record<string, number> }[] };
    out.ms.push(performance.now() - t0);
    const p = body.faces?.[0]?.probabilities;
    if (!res.ok || !p) throw new Error(`predict answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
    const probs = LABELS.map((l) => p[l]);
    const order = probs.map((_, i) => i).sort((a, b) => probs[b] - probs[a]);
    out.top1.push(order[0]);
    out.margin.push(probs[order[0]] - probs[order[1]]);
  }
  return out;
}

/** The service's resident memory (worker threads included: they share the process), from its Prometheus metrics. */
async function rssMb(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return mb(Number(/^ferops_inference_process_resident_memory_bytes (\S+)/m.exec(text)?.[1] ?? Number.NaN));
}

async function ladderModel(m: (typeof MODELS)[number], seconds: number, rounds: number, crops: Buffer[]) {
  const dir = benchModel(m.name);
  const services: Partial<Record<ModelVariant, Service>> = {};
  try {
    const started = performance.now();
    // One after the other: each service times the model at load to choose its threads, which a neighbour would skew.
    for (const v of VARIANTS) services[v] = await startService(dir, undefined, { FEROPS_MODEL_VARIANT: v });
    const url = (v: ModelVariant) => services[v]!.url;
    // Warm-up, and no cell in the service's first 10 s, for the reasons bench/inference-http.ts's warmUp gives.
    for (const v of VARIANTS) {
      await autocannonRun(`${url(v)}/v1/predict?detect=false`, crops, 'image/png', 8, 4, m.timeoutS);
      await autocannonRun(`${url(v)}/v1/predict?detect=false`, crops, 'image/png', 1, 2, m.timeoutS);
    }
    // After the warm-up, so that the latencies that size the cells are not those of a cold service.
    const fp32 = await classifyCrops(url('fp32'), crops);
    const int8 = await classifyCrops(url('int8'), crops);
    const agree = fp32.top1.filter((c, i) => c === int8.top1[i]).length;
    const answerMs = Math.max(spread(fp32.ms).median, spread(int8.ms).median);
    const cellS = Math.max(seconds, Math.ceil((MIN_ANSWERS * answerMs) / 1000));
    const left = 10_000 - (performance.now() - started);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    const rssWarm = await Promise.all(VARIANTS.map((v) => rssMb(url(v))));

    const sweep = (v: ModelVariant) => async () => {
      const cells: Cell[] = [];
      for (const c of m.concurrency) cells.push(await autocannonRun(`${url(v)}/v1/predict?detect=false`, crops, 'image/png', c, cellS, m.timeoutS));
      return cells;
    };
    const byRound = await interleaved(rounds, { fp32: sweep('fp32'), int8: sweep('int8') });
    const rssEnd = await Promise.all(VARIANTS.map((v) => rssMb(url(v))));
    return { dir, agree, fp32Margin: spread(fp32.margin).median, answerMs, cellS, byRound, rssWarm, rssEnd };
  } finally {
    for (const s of Object.values(services)) await s.stop();
  }
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5);
  const rounds = Number(process.argv[3] ?? 3);
  const only = process.argv[4]?.split(',');
  const models = MODELS.filter((m) => !only || only.includes(m.name));
  const t0 = performance.now();
  console.log(`# ${new Date().toISOString()}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load ${load()} at start`);
  const buildT0 = performance.now();
  for (const m of models) benchModel(m.name); // cached after the first build
  console.log(`# bench models ready in ${((performance.now() - buildT0) / 1000).toFixed(0)} s (built on first use, cached by content hash)`);
  const crops = await realCrops();
  console.log(`# ${crops.length} real 48x48 crops posted in turn to /v1/predict?detect=false; ${rounds} rounds per model, fp32 and int8 interleaved`);

  const rows: LadderRow[] = [];
  const lines: string[] = [];
  const notes: string[] = [];
  let fewest = { n: Number.POSITIVE_INFINITY, where: '' };
  let failed = 0;
  for (const m of models) {
    const r = await ladderModel(m, seconds, rounds, crops);
    const fileMb = Object.fromEntries(VARIANTS.map((v) => [v, mb(statSync(join(r.dir, MODEL_FILES[v])).size)])) as Record<ModelVariant, number>;
    notes.push(
      `# ${m.name}: ${BENCH_MODELS[m.name].label}; ${r.cellS} s cells (median sequential answer ${r.answerMs.toFixed(1)} ms); ` +
        `int8 top-1 agrees with fp32 on ${r.agree}/${crops.length} crops (fp32 median top-1 margin ${r.fp32Margin.toFixed(3)}); ` +
        `RSS fp32/int8 ${r.rssWarm.map((x) => x.toFixed(0)).join('/')} MB after warm-up, ${r.rssEnd.map((x) => x.toFixed(0)).join('/')} MB at the end, ` +
        `${(freemem() / 2 ** 30).toFixed(1)} GiB free; load ${load()}`,
    );
    for (const v of VARIANTS) {
      m.concurrency.forEach((c, ci) => {
        const cells = r.byRound[v].map((round) => round[ci]);
        const rps = cells.map((x) => x.rps);
        for (const x of cells) {
          failed += x.failed;
          if (x.rps * r.cellS < fewest.n) fewest = { n: Math.round(x.rps * r.cellS), where: `${m.name} ${v} c${c}` };
        }
        const row: LadderRow = { model: m.name, variant: v, fileMb: fileMb[v], concurrency: c, rps: spread(rps), p50: spread(cells.map((x) => x.p50)), p99: spread(cells.map((x) => x.p99)) };
        rows.push(row);
        const fp32Rps = r.byRound.fp32.map((round) => round[ci].rps);
        const ratio = v === 'int8' ? `${fmtSpread(ratioSpread(rps, fp32Rps), 2)}x` : '-';
        lines.push(`| ${m.name} | ${v} | ${fileMb[v].toFixed(1)} | ${c} | ${fmtSpread(row.rps)} | ${fmtSpread(row.p50)} | ${fmtSpread(row.p99)} | ${ratio} |`);
      });
    }
  }

  for (const n of notes) console.log(n);
  console.log('| model | variant | file MB | concurrency | req/s median (range) | p50 ms | p99 ms | int8/fp32 throughput |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const l of lines) console.log(l);
  console.log(`# fewest answers in a cell: ${fewest.n} (${fewest.where}); failed requests: ${failed}; concurrency 32 for demo and vit-s16 only`);
  const totalS = (performance.now() - t0) / 1000;
  console.log(`# ${new Date().toISOString()}, load ${load()} at the end; whole run ${(totalS / 60).toFixed(1)} min`);
  const date = new Date().toISOString().slice(0, 10);
  await writeLadderPlot(
    rows,
    'Inference service on 48x48 face crops: model size ladder, fp32 vs int8',
    `${date}, ${cpus().length} cores; random-weight models from the trainer's graphs; median of ${rounds} interleaved rounds, whiskers: range`,
    PLOT,
  );
  console.log(`# plot: ${PLOT}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
