/**
 * The ferops service against the strongest serving peers available here, same model.onnx, same machine, one run:
 *   node --import tsx bench/inference-peers.ts [seconds=5] [vit-seconds=10] [rounds=3]   # vit-seconds 0: demo only
 * Every server gets the same 24 real aligned 48x48 PNG face crops (bench/real-inputs.ts), one per request, each
 * connection cycling through them, at concurrency 1, 8 and 32 (autocannon):
 * - ferops: POST /v1/predict?detect=false, the PNG as the body (image/png);
 * - ferops mp: the same route with the same multipart/form-data bodies as BentoML (field `image`);
 * - mlflow Nw: `mlflow models serve --workers <cores> --env-manager local` of a pyfunc that takes base64 PNG
 *   strings (bench/peers/mlflow_png_model.py: its server takes only JSON, so base64 is the least a client can send);
 * - mlflow 1w: the same with one worker, because uvicorn's multi-worker socket leaves TCP_NODELAY off (its
 *   listening socket has protocol 0, which asyncio's nodelay check skips), so each keep-alive answer waits for a
 *   delayed ACK; the ferops/mlflow ratio is taken against the better of the two in each round;
 * - bentoml: `bentoml serve` of bench/peers/bentoml_service.py from its own venv (bench/peers/venv.ts), adaptive
 *   batching on; an image input is multipart in BentoML, so it also gets a ratio against ferops mp.
 * Photos with detection are ferops-only (neither peer has a face detector): the comparison is crops only.
 * Each cell is the median of `rounds` runs with its range, the variants interleaved (bench/rounds.ts).
 * Tuning, overridable: FEROPS_PEERS_MLFLOW_ORT_THREADS (per worker of mlflow Nw), FEROPS_PEERS_BENTOML_WORKERS,
 * FEROPS_PEERS_BENTOML_ORT_THREADS (0: onnxruntime's default). FEROPS_BENCH_MODEL=<dir> runs that model only.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, httpOk, type ManagedProcess, startProcess } from '../infra/processes/managed-process';
import { LABELS } from '../lib/labels';
import { REPO_ROOT, pythonBin, venvBin } from '../lib/paths';
import { softmax } from '../lib/preprocess';
import { BENCH_MODELS, benchModel } from './bench-models';
import { autocannonRun, startService } from './inference-http';
import { peerPython } from './peers/venv';
import { realCrops } from './real-inputs';
import { fmtSpread, interleaved, ratioSpread, spread } from './rounds';

const CONCURRENCY = [1, 8, 32];
const CORES = cpus().length;
// One ORT thread per worker when mlflow runs a worker per core: ORT's default pool per worker oversubscribes the cores.
const MLFLOW_ORT_THREADS = process.env.FEROPS_PEERS_MLFLOW_ORT_THREADS ?? '1';
// bench/peers/bentoml_service.py says why one worker with ORT's default threads.
const BENTOML_WORKERS = process.env.FEROPS_PEERS_BENTOML_WORKERS ?? '1';
const BENTOML_ORT_THREADS = process.env.FEROPS_PEERS_BENTOML_ORT_THREADS ?? '0';
const BOUNDARY = 'ferops-bench-boundary';
const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;

interface Target {
  url: string;
  bodies: Buffer[];
  type: string;
  /** The class probabilities of the one face in a response body, in LABELS order. */
  probabilities: (body: unknown) => number[];
}

const multipart = (png: Buffer) =>
  Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\ncontent-disposition: form-data; name="image"; filename="face.png"\r\ncontent-type: image/png\r\n\r\n`),
    png,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
const mlflowJson = (png: Buffer) => Buffer.from(JSON.stringify({ dataframe_split: { columns: ['image'], data: [[png.toString('base64')]] } }));
const ferops = (body: unknown) => {
  const p = (body as { faces: { probabilities: Record<string, number> }[] }).faces[0].probabilities;
  return LABELS.map((l) => p[l]);
};
const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));

// Peers run in their own process groups (their workers are grandchildren): killed on any exit, a Ctrl-C included.
const killGroup = (pid: number) => {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
};
const running = new Set<ManagedProcess>();
process.on('exit', () => running.forEach((p) => killGroup(p.pid)));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

/** Starts a peer as the stack starts its processes (infra/processes), logging to a temp dir, ready on GET `ready`. */
async function startPeer(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, ready: string) {
  const logDir = mkdtempSync(join(tmpdir(), `ferops-bench-${name.replace(/\W+/g, '-')}-`));
  const proc = await startProcess({ name, command, args, env, cwd: logDir, logFile: join(logDir, 'server.log'), ready: () => httpOk(ready) });
  running.add(proc);
  const stop = async () => {
    await proc.stop();
    running.delete(proc);
    rmSync(logDir, { recursive: true, force: true });
  };
  return { stop };
}

export async function startMlflow(onnx: string, dir: string, workers: number, ortThreads: string) {
  const model = join(dir, 'mlflow-model');
  if (!existsSync(model)) writeMlflowModel(onnx, model);
  const port = await freePort();
  const args = ['models', 'serve', '-m', model, '--env-manager', 'local', '-h', '127.0.0.1', '-p', String(port), '--workers', String(workers)];
  // The server execs `uvicorn` by name: the venv's bin must be on PATH.
  const env = { PATH: `${dirname(venvBin('mlflow'))}:${process.env.PATH ?? ''}`, MLFLOW_TRACKING_URI: join(dir, 'mlruns'), FEROPS_PEER_ORT_THREADS: ortThreads };
  const url = `http://127.0.0.1:${port}`;
  const { stop } = await startPeer(`mlflow ${workers}w`, venvBin('mlflow'), args, env, `${url}/ping`);
  return { url: `${url}/invocations`, stop };
}

function writeMlflowModel(onnx: string, model: string): void {
  const built = spawnSync(pythonBin(), [join(REPO_ROOT, 'bench', 'peers', 'mlflow_png_model.py'), onnx, model], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`writing the MLflow model failed:\n${built.stderr.slice(-2000)}`);
}

export async function startBentoml(onnx: string, dir: string, workers: string, ortThreads: string) {
  const python = peerPython();
  const port = await freePort();
  const args = ['-m', 'bentoml', 'serve', 'bentoml_service:FerPeer', '--working-dir', join(REPO_ROOT, 'bench', 'peers'), '--host', '127.0.0.1', '-p', String(port)];
  args.push('--arg', `model=${onnx}`, '--arg', `workers=${workers}`, '--arg', `ort_threads=${ortThreads}`);
  const env = { BENTOML_HOME: join(dir, 'bentoml'), BENTOML_DO_NOT_TRACK: 'true' };
  const url = `http://127.0.0.1:${port}`;
  const { stop } = await startPeer('bentoml', python, args, env, `${url}/readyz`);
  return { url: `${url}/classify`, stop };
}

/**
 * Every target answers every crop with ferops' probabilities (to its 4 decimals) and class, so a wrong payload or
 * decode fails here, not in a table. Random weights leave near-ties, where only the probabilities are compared.
 */
async function check(targets: Record<string, Target>, crops: Buffer[]): Promise<number> {
  let worst = 0;
  for (let i = 0; i < crops.length; i++) {
    const probs: Record<string, number[]> = {};
    for (const [name, t] of Object.entries(targets)) {
      const res = await fetch(t.url, { method: 'POST', headers: { 'content-type': t.type }, body: t.bodies[i] });
      const text = await res.text();
      if (!res.ok) throw new Error(`${name} answered ${res.status} for crop ${i}: ${text.slice(0, 500)}`);
      probs[name] = t.probabilities(JSON.parse(text));
    }
    const ref = probs.ferops;
    const top2 = [...ref].sort((a, b) => b - a);
    for (const [name, p] of Object.entries(probs)) {
      const diff = Math.max(...p.map((x, k) => Math.abs(x - ref[k])));
      worst = Math.max(worst, diff);
      const sameClass = argmax(p) === argmax(ref) || top2[0] - top2[1] <= 1e-3;
      if (diff > 1e-3 || !sameClass) throw new Error(`crop ${i}: ${name} answered ${JSON.stringify(p)}, ferops ${JSON.stringify(ref)}`);
    }
  }
  return worst;
}

async function compare(modelDir: string, label: string, seconds: number, rounds: number, crops: Buffer[]): Promise<void> {
  const onnx = join(modelDir, 'model.onnx');
  const dir = mkdtempSync(join(tmpdir(), 'ferops-bench-peers-'));
  const service = await startService(modelDir);
  const stops = [service.stop];
  // Started servers are stopped in `finally`, the last started first.
  const started = (s: { url: string; stop: () => Promise<void> }) => (stops.push(s.stop), s.url);
  try {
    const predict = `${service.url}/v1/predict?detect=false`;
    const peerProbabilities = (body: unknown) => softmax((Array.isArray(body) ? body : (body as { predictions: number[][] }).predictions)[0]);
    const mlflowTarget = async (workers: number, threads: string): Promise<Target> => ({
      url: started(await startMlflow(onnx, dir, workers, threads)),
      bodies: crops.map(mlflowJson),
      type: 'application/json',
      probabilities: peerProbabilities,
    });
    const targets: Record<string, Target> = {
      ferops: { url: predict, bodies: crops, type: 'image/png', probabilities: ferops },
      'ferops mp': { url: predict, bodies: crops.map(multipart), type: MULTIPART, probabilities: ferops },
      [`mlflow ${CORES}w`]: await mlflowTarget(CORES, MLFLOW_ORT_THREADS),
      ...(CORES > 1 ? { 'mlflow 1w': await mlflowTarget(1, '0') } : {}),
    };
    const bentoml = started(await startBentoml(onnx, dir, BENTOML_WORKERS, BENTOML_ORT_THREADS));
    targets.bentoml = { url: bentoml, bodies: crops.map(multipart), type: MULTIPART, probabilities: peerProbabilities };
    const names = Object.keys(targets);
    const worst = await check(targets, crops);
    console.log(`\n## ${label}: ${seconds} s per cell, ${rounds} rounds, ${new Date().toISOString()}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    console.log(`# ${modelDir}; all servers agree on all ${crops.length} crops (probabilities within ${worst.toFixed(5)} of ferops')`);
    console.log(`# each server: req/s median (range) over the rounds, then p50/p99 ms (medians); mlflow: the better of ${names.filter((n) => n.startsWith('mlflow')).join(' and ')} in each round`);
    console.log(`| concurrency | ${names.join(' | ')} | ferops / mlflow | ferops / bentoml | ferops mp / bentoml | failed ${names.join('/')} |`);
    console.log(`|---|${names.map(() => '---|').join('')}---|---|---|---|`);
    for (const c of CONCURRENCY) {
      // With ViT-B/16, 32 callers queue for seconds: autocannon's 10 s default would cut the queue and count
      // answers still coming as errors.
      const run = (n: string, secs: number) => autocannonRun(targets[n].url, targets[n].bodies, targets[n].type, c, secs, 60);
      // Each server first settles at this load: V8 optimises ferops' hot paths, and BentoML's batcher sets how long
      // it holds a request from the waits of its recent batches (it carries a busier level's wait into a quieter one).
      for (const n of names) await run(n, Math.max(2, seconds / 2));
      const r = await interleaved(rounds, Object.fromEntries(names.map((n) => [n, () => run(n, seconds)])));
      const rps = (n: string) => r[n].map((x) => x.rps);
      const mlflowBest = rps(`mlflow ${CORES}w`).map((x, i) => Math.max(x, ...(r['mlflow 1w'] ? [r['mlflow 1w'][i].rps] : [])));
      const cell = (n: string) => `${fmtSpread(spread(rps(n)))}, ${spread(r[n].map((x) => x.p50)).median}/${spread(r[n].map((x) => x.p99)).median}`;
      const ratio = (a: number[], b: number[]) => `${fmtSpread(ratioSpread(a, b))}x`;
      const failed = names.map((n) => r[n].reduce((s, x) => s + x.failed, 0)).join('/');
      console.log(
        `| ${c} | ${names.map(cell).join(' | ')} | ${ratio(rps('ferops'), mlflowBest)} | ${ratio(rps('ferops'), rps('bentoml'))} | ` +
          `${ratio(rps('ferops mp'), rps('bentoml'))} | ${failed} |`,
      );
    }
  } finally {
    for (const stop of stops.reverse()) await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5);
  const vitSeconds = Number(process.argv[3] ?? 10);
  const rounds = Number(process.argv[4] ?? 3);
  const crops = await realCrops();
  console.log(`# ${new Date().toISOString()}, ${CORES} cores, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`# ${crops.length} real aligned 48x48 PNG face crops, one per request; photos with detection are ferops-only (the peers have no face detector), so the comparison is crops only`);
  console.log(`# ferops FEROPS_ORT_THREADS=${process.env.FEROPS_ORT_THREADS ?? '(default)'}; mlflow base64 PNG in JSON, ${CORES} workers with ORT threads ${MLFLOW_ORT_THREADS} each, or 1 worker with ORT's default;`);
  console.log(`# bentoml ${BENTOML_WORKERS} worker(s), ORT threads ${BENTOML_ORT_THREADS === '0' ? 'default' : BENTOML_ORT_THREADS}, adaptive batching (max 16), multipart PNG`);
  if (process.env.FEROPS_BENCH_MODEL) return compare(process.env.FEROPS_BENCH_MODEL, `FEROPS_BENCH_MODEL=${process.env.FEROPS_BENCH_MODEL}`, seconds, rounds, crops);
  await compare(benchModel('demo'), BENCH_MODELS.demo.label, seconds, rounds, crops);
  if (vitSeconds > 0) await compare(benchModel('vit-b16'), BENCH_MODELS['vit-b16'].label, vitSeconds, rounds, crops);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
