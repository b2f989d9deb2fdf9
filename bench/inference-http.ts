/**
 * HTTP throughput of the inference service beside its like-for-like baselines, in one run:
 *   node --import tsx bench/inference-http.ts [seconds=3] [rounds=3] [demo|vit-s16|vit-b16] [crops]
 * The service runs as a child process (main.ts, its deployed node flags) so autocannon does not share its event
 * loop. At concurrency 1, 8 and 32, in `rounds` interleaved rounds (bench/rounds.ts), it measures:
 * - crop: POST /v1/predict?detect=false with the 24 real aligned face crops (bench/real-inputs.ts), in turn;
 * - bare: the same bodies to bench/bare-ort-server.ts, node:http + one session.run per request and nothing else
 *   (the ceiling of any Node HTTP server on this machine: at concurrency 1 HTTP, not inference, bounds a model
 *   that classifies a face in under a millisecond);
 * - raw 1: session.run on one real crop per call from `concurrency` callers, the service's own session options;
 * - raw B: session.run on batches of B real crops from one caller, B the mean batch the service ran in a probe at
 *   that concurrency (its ferops_inference_batch_faces histogram): the service's micro-batches against onnxruntime
 *   running the same batches, so the ratio is the service's overhead, not batching against no batching;
 * - photo: POST /v1/predict (detection on) with a 640x480 JPEG with one face (ferops only; `crops` skips it).
 * Each headline is the median of the rounds with their range. The model is a bench model (bench/bench-models.ts,
 * the trainer's own graphs with random weights), or FEROPS_BENCH_MODEL=<dir>.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { REPO_ROOT } from '../lib/paths';
import { FACE_SIZE } from '../lib/labels';
import { FACE_PIXELS, MODEL_INPUT_NAME } from '../lib/preprocess';
import { INFERENCE_NODE_FLAGS } from '../services/inference/node-flags';
import { ortSessionOptions, servingThreads } from '../lib/onnx/classifier-session';
import { BENCH_MODELS, type BenchModelName, benchModel, defaultBenchModel } from './bench-models';
import { benchPhoto, realCrops, realCropTensors } from './real-inputs';
import { fmtSpread, interleaved, ratioSpread, spread } from './rounds';

const CONCURRENCY = [1, 8, 32];

interface AutocannonResult {
  requests: { average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
// autocannon ships no type declarations; this is the slice used here (a run is a promise and an event emitter).
type AutocannonRun = Promise<AutocannonResult> & { on(event: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void };
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => AutocannonRun;

/**
 * Faces per second of session.run on batches of `batch` real crops (cycled), from `callers` concurrent callers,
 * on one session with `options`.
 */
async function rawOrt(
  modelFile: string,
  options: ort.InferenceSession.SessionOptions,
  crops: Float32Array[],
  batch: number,
  callers: number,
  seconds: number,
): Promise<number> {
  const session = await ort.InferenceSession.create(modelFile, options);
  const inputs = crops.map((_, i) => {
    const data = new Float32Array(batch * FACE_PIXELS);
    for (let b = 0; b < batch; b++) data.set(crops[(i + b) % crops.length], b * FACE_PIXELS);
    return new ort.Tensor('float32', data, [batch, 1, FACE_SIZE, FACE_SIZE]);
  });
  for (let i = 0; i < 10; i++) await session.run({ [MODEL_INPUT_NAME]: inputs[i % inputs.length] }); // first runs allocate
  const start = performance.now();
  const end = start + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: callers }, async (_, k) => {
      for (let i = k; performance.now() < end; i++) {
        await session.run({ [MODEL_INPUT_NAME]: inputs[i % inputs.length] });
        done += batch;
      }
    }),
  );
  // Runs started before the deadline finish after it and are counted, so the rate is over the time they took: with
  // ViT-B/16 at concurrency 32, dividing by `seconds` had counted runs that ended past the cell.
  const elapsedS = (performance.now() - start) / 1000;
  await session.release();
  return done / elapsedS;
}

/**
 * The service as a child process, with the node flags it is deployed with unless `nodeFlags` says otherwise;
 * `env` adds to (or overrides) this process's environment for it, e.g. FEROPS_MODEL_VARIANT.
 */
export async function startService(
  modelDir: string,
  nodeFlags: readonly string[] = INFERENCE_NODE_FLAGS,
  env: Record<string, string> = {},
): Promise<{ url: string; stop: () => Promise<void> }> {
  // The service logs to a file, as in the stack (infra/processes): a pipe read by this process, which is busy
  // driving autocannon on the same 2 cores, backs up, and the service then holds its log lines in memory.
  const logDir = mkdtempSync(join(tmpdir(), 'ferops-bench-log-'));
  const logFile = join(logDir, 'inference.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...profileFlags(), ...nodeFlags, '--import', 'tsx', join(REPO_ROOT, 'services', 'inference', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, FEROPS_INFERENCE_PORT: '0', FEROPS_MODEL_DIRS: dirname(modelDir), FEROPS_STABLE_MODEL: modelDir },
    stdio: ['ignore', fd, 'inherit'],
  });
  closeSync(fd);
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? -1));
  // The per-request JSON log stays on (it is part of the cost of serving); the port comes from the listening line.
  const deadline = Date.now() + 60_000;
  let url: string | undefined;
  while (!url) {
    if (exited !== null) throw new Error(`service exited with ${exited}:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    if (Date.now() > deadline) throw new Error('service did not start in 60 s');
    await new Promise((r) => setTimeout(r, 100));
    url = /"url":"([^"]+)"/.exec(readFileSync(logFile, 'utf8'))?.[1];
  }
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.on('exit', () => {
          rmSync(logDir, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** Node flags that make a child write a V8 CPU profile of each thread into `dir` when it exits (open it in Chrome devtools). */
export const cpuProfileFlags = (dir: string): string[] => ['--cpu-prof', '--cpu-prof-dir', dir];
/** FEROPS_BENCH_PROFILE=<dir>: every child a bench starts writes its profile there. */
const profileFlags = () => (process.env.FEROPS_BENCH_PROFILE ? cpuProfileFlags(process.env.FEROPS_BENCH_PROFILE) : []);

/** The session options the service child will choose for `modelFile` from the same environment (servingThreads). */
export async function serviceSessionOptions(modelFile: string): Promise<ort.InferenceSession.SessionOptions> {
  const probe = await ort.InferenceSession.create(modelFile);
  try {
    return ortSessionOptions(await servingThreads(probe, Number(process.env.FEROPS_ORT_THREADS ?? 0)));
  } finally {
    await probe.release();
  }
}

/** bench/bare-ort-server.ts as a child process, with the service's thread setting (`decode`: classifying the crop sent); resolves with its URL. */
export async function startBareServer(
  modelFile: string,
  threads: number,
  nodeFlags: readonly string[] = [],
  mode: 'fixed' | 'decode' = 'fixed',
): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [...profileFlags(), ...nodeFlags, '--import', 'tsx', join(REPO_ROOT, 'bench', 'bare-ort-server.ts'), modelFile, String(threads), mode], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(String(d).trim()));
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { url: `http://127.0.0.1:${port}/`, stop: () => (child.kill(), exited) };
}

/**
 * `timeoutS`: how long one request may take before autocannon counts it failed (its default is 10 s).
 * Latency percentiles come from every 2xx response's own time (autocannon reports them in microseconds through
 * its `response` event): its histogram rounds to whole milliseconds, which made "p99 < 3x p50" unreadable for
 * crops, whose p50 is about a millisecond.
 */
export async function autocannonRun(url: string, body: Buffer | readonly Buffer[], type: string, connections: number, seconds: number, timeoutS = 10) {
  const bodies = Array.isArray(body) ? body : [body as Buffer];
  const run = autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': type },
    // Several bodies: each connection sends them in turn (autocannon's `requests` cycle).
    ...(bodies.length === 1 ? { body: bodies[0] } : { requests: bodies.map((b) => ({ method: 'POST', body: b })) }),
    connections,
    duration: seconds,
    timeout: timeoutS,
  });
  const times: number[] = [];
  run.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) times.push(ms);
  });
  const result = await run;
  // autocannon stops at the deadline and abandons the requests in flight, but the server still computes them: with
  // ViT-B/16 at concurrency 32 that is seconds of CPU, which used to land on the next cell (and once left a cell
  // with no answer at all). One more request, queued behind them, returns when the server is idle again.
  await fetch(url, { method: 'POST', headers: { 'content-type': type }, body: bodies[0], signal: AbortSignal.timeout(120_000) }).then((r) => r.arrayBuffer());
  times.sort((a, b) => a - b);
  const at = (q: number) => (times.length ? round2(times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]) : Number.NaN);
  const failed = result.non2xx + result.errors + result.timeouts;
  return { rps: result.requests.average, p50: at(0.5), p99: at(0.99), failed, answered: times.length };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

const http = (url: string, body: Buffer | readonly Buffer[], type: string, query: string, connections: number, seconds: number, timeoutS = 10) =>
  autocannonRun(`${url}/v1/predict${query}`, body, type, connections, seconds, timeoutS);

/** The service's batch-size histogram so far (onnxruntime runs and the faces in them), from its own /metrics. */
async function batches(url: string): Promise<{ runs: number; faces: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (part: string) => Number(new RegExp(`^ferops_inference_batch_faces_${part} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { runs: read('count'), faces: read('sum') };
}

/**
 * Load before the measured cells, as a deployed service has seen before anyone measures it: the hot paths get
 * optimised by V8 (the first seconds of a fresh service run slower code, and its tail shows it), and the three worker
 * threads go through their start-up collections (V8's memory reducer compacts each idle worker's heap ~8-9 s after
 * start: six mark-compacts of 3-8 ms in all, which landed on the concurrency-1 crop cell when it ran ~9 s in).
 */
async function warmUp(serviceUrl: string, bareUrl: string, crop: readonly Buffer[], photo: Buffer, cropsOnly: boolean): Promise<void> {
  const started = performance.now();
  await http(serviceUrl, crop, 'image/png', '?detect=false', 8, 3);
  await http(serviceUrl, crop, 'image/png', '?detect=false', 1, 2);
  if (!cropsOnly) await http(serviceUrl, photo, 'image/jpeg', '', 2, 2);
  await autocannonRun(bareUrl, crop, 'image/png', 1, 2);
  const startUpS = 10;
  const left = startUpS * 1000 - (performance.now() - started);
  if (left > 0) await new Promise((r) => setTimeout(r, left));
}

interface Cell {
  rps: number;
  p50: number;
  p99: number;
  failed: number;
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 3);
  const rounds = Number(process.argv[3] ?? 3);
  const name = (process.argv[4] ?? 'demo') as BenchModelName;
  const cropsOnly = process.argv[5] === 'crops';
  const model = process.env.FEROPS_BENCH_MODEL ? defaultBenchModel() : { dir: benchModel(name), label: BENCH_MODELS[name].label };
  const modelFile = join(model.dir, 'model.onnx');
  // What the service child will choose from the same environment (0: one thread for a small model, else all).
  const serviceOptions = await serviceSessionOptions(modelFile);
  const crops = await realCrops();
  const tensors = await realCropTensors();
  const photo = await benchPhoto();
  // A big model's callers queue for seconds at concurrency 32: count answers, not autocannon's 10 s timeout.
  const timeoutS = 120;

  const service = await startService(model.dir);
  const bare = await startBareServer(modelFile, serviceOptions.intraOpNumThreads ?? 0);
  const bareDecode = await startBareServer(modelFile, serviceOptions.intraOpNumThreads ?? 0, [], 'decode');
  try {
    await warmUp(service.url, bare.url, crops, photo, cropsOnly);
    await autocannonRun(bareDecode.url, crops, 'image/png', 1, 2);
    console.log(`# ${new Date().toISOString()}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${cpus().length} cores, ${cpus()[0]?.model ?? ''}`);
    console.log(`# ${seconds} s cells, ${rounds} interleaved rounds, medians (range); model ${model.label}; ${crops.length} real crops; photo 640x480 JPEG, one face`);
    console.log(`# session options (service, raw and bare alike): ${JSON.stringify(serviceOptions)}`);
    console.log(
      '| concurrency | crop req/s | crop p50/p99 ms (p99/p50) | bare req/s | bare p50/p99 ms (p99/p50) | crop / bare | bare+decode req/s | bare+decode / bare | crop / bare+decode | raw 1 faces/s | crop / raw 1 | service batch B | raw B faces/s | crop / raw B | photo req/s | photo p50/p99 ms | failed |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const c of CONCURRENCY) {
      // The batch size the service runs at this concurrency, for the like-for-like raw baseline.
      const before = await batches(service.url);
      await http(service.url, crops, 'image/png', '?detect=false', c, Math.min(2, seconds), timeoutS);
      const after = await batches(service.url);
      const meanBatch = (after.faces - before.faces) / (after.runs - before.runs);
      const batch = Math.max(1, Math.round(meanBatch));
      const r = await interleaved<Cell | number>(rounds, {
        crop: () => http(service.url, crops, 'image/png', '?detect=false', c, seconds, timeoutS),
        bare: () => autocannonRun(bare.url, crops, 'image/png', c, seconds, timeoutS),
        bareDecode: () => autocannonRun(bareDecode.url, crops, 'image/png', c, seconds, timeoutS),
        raw1: () => rawOrt(modelFile, serviceOptions, tensors, 1, c, seconds),
        rawB: () => rawOrt(modelFile, serviceOptions, tensors, batch, 1, seconds),
        ...(cropsOnly ? {} : { photo: () => http(service.url, photo, 'image/jpeg', '', c, seconds, timeoutS) }),
      });
      const cells = (k: string) => r[k] as Cell[];
      const rps = (k: string) => cells(k).map((x) => x.rps);
      const raw = (k: string) => r[k] as number[];
      const lat = (k: string) => {
        const p50 = spread(cells(k).map((x) => x.p50)).median;
        const p99 = spread(cells(k).map((x) => x.p99)).median;
        return `${p50.toFixed(2)}/${p99.toFixed(2)} (${(p99 / p50).toFixed(1)}x)`;
      };
      const pct = (a: number[], b: number[]) => {
        const x = ratioSpread(a, b);
        return `${(x.median * 100).toFixed(0)} % (${(x.min * 100).toFixed(0)}-${(x.max * 100).toFixed(0)})`;
      };
      const failed = [...cells('crop'), ...cells('bare'), ...cells('bareDecode'), ...(cropsOnly ? [] : cells('photo'))].reduce((a, x) => a + x.failed, 0);
      console.log(
        `| ${c} | ${fmtSpread(spread(rps('crop')))} | ${lat('crop')} | ${fmtSpread(spread(rps('bare')))} | ${lat('bare')} | ${pct(rps('crop'), rps('bare'))} | ` +
          `${fmtSpread(spread(rps('bareDecode')))} | ${pct(rps('bareDecode'), rps('bare'))} | ${pct(rps('crop'), rps('bareDecode'))} | ` +
          `${fmtSpread(spread(raw('raw1')))} | ${pct(rps('crop'), raw('raw1'))} | ${meanBatch.toFixed(1)} -> ${batch} | ${fmtSpread(spread(raw('rawB')))} | ` +
          `${pct(rps('crop'), raw('rawB'))} | ${cropsOnly ? '-' : fmtSpread(spread(rps('photo')))} | ${cropsOnly ? '-' : lat('photo')} | ${failed} |`,
      );
    }
  } finally {
    await bareDecode.stop();
    await bare.stop();
    await service.stop();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
