/**
 * HTTP throughput of the inference service beside raw onnxruntime-node on the same model, in one run:
 *   node --import tsx bench/inference-http.ts [seconds=3]
 * The service runs as a child process (main.ts) so autocannon does not share its event loop. For concurrency
 * 1, 8 and 32 it measures: POST /v1/predict?detect=false on a 48x48 crop, POST /v1/predict on a 640x480 photo
 * with one face, and raw session.run() on one face (the same number of concurrent callers). It prints req/s,
 * latency and the ratio HTTP / raw. The model is the demo architecture (bench/bench-models.ts: the trainer's
 * "tiny" ViT with random weights) unless FEROPS_BENCH_MODEL names a dir. `crops` as the second argument skips the
 * photo cells (detection dominates them and they take most of the run).
 *
 * Beside them, bench/bare-ort-server.ts: the same crops through the least a Node HTTP server can do (read the body,
 * one session.run, answer JSON), as the ceiling of HTTP on this machine.
 *
 * Raw onnxruntime is measured twice: with default session options, batch 1 per call (what a plain user writes:
 * the ratio the issue's target is about), and with the service's own options (FEROPS_ORT_THREADS and
 * inter-op 1, read from the same environment), which isolates what the HTTP path costs from thread tuning.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { REPO_ROOT } from '../lib/paths';
import { FACE_PIXELS } from '../lib/preprocess';
import { getPhotos } from '../infra/photos';
import { INFERENCE_NODE_FLAGS } from '../services/inference/node-flags';
import { ortSessionOptions, servingThreads } from '../lib/onnx/classifier-session';
import { defaultBenchModel } from './bench-models';

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

async function rawOrt(modelFile: string, concurrency: number, seconds: number, options: ort.InferenceSession.SessionOptions = {}): Promise<number> {
  const session = await ort.InferenceSession.create(modelFile, options);
  const input = new ort.Tensor('float32', new Float32Array(FACE_PIXELS).fill(0.5), [1, 1, 48, 48]);
  for (let i = 0; i < 10; i++) await session.run({ pixels: input }); // first runs allocate; not part of the rate
  const start = performance.now();
  const end = start + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await session.run({ pixels: input });
        done++;
      }
    }),
  );
  // Runs started before the deadline finish after it and are counted, so the rate is over the time they took: with
  // ViT-B/16 at concurrency 32, dividing by `seconds` had counted ~6 req/s of runs that ended past the 5 s cell.
  const elapsedS = (performance.now() - start) / 1000;
  await session.release();
  return done / elapsedS;
}

/** The service as a child process, with the node flags it is deployed with unless `nodeFlags` says otherwise. */
export async function startService(modelDir: string, nodeFlags: readonly string[] = INFERENCE_NODE_FLAGS): Promise<{ url: string; stop: () => Promise<void> }> {
  // FEROPS_BENCH_PROFILE=<dir>: the service writes a V8 CPU profile there when it stops (open it in Chrome devtools).
  const profile = process.env.FEROPS_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.FEROPS_BENCH_PROFILE] : [];
  // The service logs to a file, as in the stack (infra/processes): a pipe read by this process, which is busy
  // driving autocannon on the same 2 cores, backs up, and the service then holds its log lines in memory.
  const logDir = mkdtempSync(join(tmpdir(), 'ferops-bench-log-'));
  const logFile = join(logDir, 'inference.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...profile, ...nodeFlags, '--import', 'tsx', join(REPO_ROOT, 'services', 'inference', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, FEROPS_INFERENCE_PORT: '0', FEROPS_MODEL_DIRS: dirname(modelDir), FEROPS_STABLE_MODEL: modelDir },
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

/** bench/bare-ort-server.ts as a child process, with the service's thread setting; resolves with its URL. */
async function startBareServer(modelFile: string, threads: number): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'bare-ort-server.ts'), modelFile, String(threads)], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(String(d).trim()));
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}/`, stop: () => child.kill() };
}

/**
 * `timeoutS`: how long one request may take before autocannon counts it failed (its default is 10 s).
 * Latency percentiles come from every 2xx response's own time (autocannon reports them in microseconds through
 * its `response` event): its histogram rounds to whole milliseconds, which made "p99 < 3x p50" unreadable for
 * crops, whose p50 is about a millisecond.
 */
export async function autocannonRun(url: string, body: Buffer, type: string, connections: number, seconds: number, timeoutS = 10) {
  const run = autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': type },
    body,
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
  await fetch(url, { method: 'POST', headers: { 'content-type': type }, body, signal: AbortSignal.timeout(120_000) }).then((r) => r.arrayBuffer());
  times.sort((a, b) => a - b);
  const at = (q: number) => (times.length ? round2(times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]) : Number.NaN);
  const failed = result.non2xx + result.errors + result.timeouts;
  return { rps: result.requests.average, p50: at(0.5), p99: at(0.99), failed };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

const http = (url: string, body: Buffer, type: string, query: string, connections: number, seconds: number) =>
  autocannonRun(`${url}/v1/predict${query}`, body, type, connections, seconds);

/**
 * Load before the measured cells, as a deployed service has seen before anyone measures it: the hot paths get
 * optimised by V8 (the first seconds of a fresh service run slower code, and its tail shows it), and the three worker
 * threads go through their start-up collections (V8's memory reducer compacts each idle worker's heap ~8-9 s after
 * start: six mark-compacts of 3-8 ms in all, which landed on the concurrency-1 crop cell when it ran ~9 s in).
 */
async function warmUp(serviceUrl: string, bareUrl: string, crop: Buffer, photo: Buffer, cropsOnly: boolean): Promise<void> {
  const started = performance.now();
  await http(serviceUrl, crop, 'image/png', '?detect=false', 8, 3);
  await http(serviceUrl, crop, 'image/png', '?detect=false', 1, 2);
  if (!cropsOnly) await http(serviceUrl, photo, 'image/jpeg', '', 2, 2);
  await autocannonRun(bareUrl, crop, 'image/png', 1, 2);
  const startUpS = 10;
  const left = startUpS * 1000 - (performance.now() - started);
  if (left > 0) await new Promise((r) => setTimeout(r, left));
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 3);
  const cropsOnly = process.argv[3] === 'crops';
  const model = defaultBenchModel();
  const modelDir = model.dir;
  // What the service child will choose from the same environment (0: one thread for a small model, else all).
  const probe = await ort.InferenceSession.create(join(modelDir, 'model.onnx'));
  const serviceOptions = ortSessionOptions(await servingThreads(probe, Number(process.env.FEROPS_ORT_THREADS ?? 0)));
  await probe.release();
  const photos = getPhotos();
  const crop = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#777' } }).png().toBuffer();
  const source = photos.graceHopper;
  const portrait = await sharp(readFileSync(source)).resize({ height: 480 }).toBuffer();
  const photo = await sharp(portrait).resize(640, 480, { fit: 'contain', background: '#808080' }).jpeg({ quality: 90 }).toBuffer();

  const service = await startService(modelDir);
  const bare = await startBareServer(join(modelDir, 'model.onnx'), serviceOptions.intraOpNumThreads ?? 0);
  try {
    await warmUp(service.url, bare.url, crop, photo, cropsOnly);
    console.log(`# ${new Date().toISOString()}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${cpus().length} cores`);
    console.log(`# ${seconds}s per cell, model ${model.label} (${modelDir}), photo ${basename(source)} 640x480`);
    console.log(`# raw ort: default options ("plain") and the service's (${JSON.stringify(serviceOptions)}), batch 1 per call`);
    console.log('# bare: bench/bare-ort-server.ts, node:http + one session.run per request and nothing else (the ceiling of any Node server here)');
    console.log(
      '| concurrency | raw ort req/s (plain) | raw ort req/s (service opts) | bare HTTP req/s, p50/p99 ms | crop req/s | crop p50/p99 ms (p99/p50) | crop / raw plain | crop / raw service | crop / bare | photo req/s | photo p50/p99 ms | failed |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const c of CONCURRENCY) {
      const plain = await rawOrt(join(modelDir, 'model.onnx'), c, seconds);
      const tuned = await rawOrt(join(modelDir, 'model.onnx'), c, seconds, serviceOptions);
      const ceiling = await autocannonRun(bare.url, crop, 'image/png', c, seconds);
      const a = await http(service.url, crop, 'image/png', '?detect=false', c, seconds);
      const b = cropsOnly ? undefined : await http(service.url, photo, 'image/jpeg', '', c, seconds);
      const ratio = (x: number, raw: number) => `${((x / raw) * 100).toFixed(1)} %`;
      console.log(
        `| ${c} | ${plain.toFixed(0)} | ${tuned.toFixed(0)} | ${ceiling.rps.toFixed(0)}, ${ceiling.p50}/${ceiling.p99} | ${a.rps.toFixed(0)} | ` +
          `${a.p50}/${a.p99} (${(a.p99 / a.p50).toFixed(1)}x) | ${ratio(a.rps, plain)} | ${ratio(a.rps, tuned)} | ${ratio(a.rps, ceiling.rps)} | ` +
          `${b ? b.rps.toFixed(1) : '-'} | ${b ? `${b.p50}/${b.p99}` : '-'} | ${a.failed + (b?.failed ?? 0)} |`,
      );
    }
  } finally {
    bare.stop();
    await service.stop();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
