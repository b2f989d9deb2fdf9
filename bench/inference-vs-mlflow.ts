/**
 * The ferops service against `mlflow models serve` (python_function flavour of the same model.onnx), in one run:
 *   node --import tsx bench/inference-vs-mlflow.ts [seconds=5] [vit-seconds=10]
 * Both serve one pre-aligned 48x48 face per request at concurrency 1, 8 and 32 (autocannon):
 * - ferops: POST /v1/predict?detect=false with the crop as a PNG (decoded, batched, softmaxed, logged);
 * - mlflow: POST /invocations with the crop as the JSON tensor `{"inputs": {"pixels": [[[[...]]]]}}` (what a
 *   pyfunc ONNX model takes; the client has already turned pixels into floats, so mlflow does less work).
 * Models (bench/bench-models.ts, the trainer's own graphs with random weights: speed does not depend on the
 * weight values): the demo architecture, then ViT-B/16 at 224 px with longer cells (a few req/s on 2 cores).
 * FEROPS_BENCH_MODEL=<model dir> replaces both with that one model.
 * The MLflow model dir is written the way activities/register writes it (MLmodel with onnx + python_function
 * flavours), and served with `--env-manager local` from the project venv, so nothing is downloaded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { lockedVersions, mlmodelYaml, pythonEnvYaml, requirementsTxt } from '../activities/register/mlmodel';
import { venvBin } from '../lib/paths';
import { BENCH_MODELS, benchModel } from './bench-models';
import { autocannonRun, startService } from './inference-http';

const CONCURRENCY = [1, 8, 32];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Writes an MLflow model dir (what logModel uploads) holding the ferops model's model.onnx. */
function mlflowModelDir(modelDir: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferops-bench-mlflow-'));
  const versions = lockedVersions();
  copyFileSync(join(modelDir, 'model.onnx'), join(dir, 'model.onnx'));
  writeFileSync(join(dir, 'MLmodel'), mlmodelYaml({ versions, artifactPath: 'model' }));
  writeFileSync(join(dir, 'requirements.txt'), requirementsTxt(versions));
  writeFileSync(join(dir, 'python_env.yaml'), pythonEnvYaml(versions));
  return dir;
}

async function startMlflow(dir: string): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(venvBin('mlflow'), ['models', 'serve', '-m', dir, '--env-manager', 'local', '-h', '127.0.0.1', '-p', String(port)], {
    // The server execs `uvicorn` by name: the venv's bin must be on PATH (exit 127 otherwise).
    env: { ...process.env, PATH: `${dirname(venvBin('mlflow'))}:${process.env.PATH ?? ''}`, MLFLOW_TRACKING_URI: join(dir, 'mlruns') },
    stdio: ['ignore', 'ignore', 'pipe'],
    // Its own process group: the server runs uvicorn/gunicorn workers as grandchildren, stopped with it.
    detached: true,
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? -1));
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited !== null) throw new Error(`mlflow models serve exited with ${exited}:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`mlflow models serve not ready in 120 s:\n${stderr}`);
    try {
      if ((await fetch(`${url}/ping`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return {
    url,
    child,
    stop: () =>
      new Promise((resolve) => {
        if (exited !== null) return resolve();
        child.on('exit', () => resolve());
        process.kill(-child.pid!, 'SIGTERM');
      }),
  };
}

async function compare(modelDir: string, label: string, seconds: number, png: Buffer, json: Buffer): Promise<void> {
  const dir = mlflowModelDir(modelDir);
  const service = await startService(modelDir);
  let mlflow: Awaited<ReturnType<typeof startMlflow>> | undefined;
  try {
    mlflow = await startMlflow(dir);
    // One real answer from each before timing, so a broken payload fails loudly instead of timing errors.
    const check = await fetch(`${mlflow.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json });
    if (!check.ok) throw new Error(`mlflow /invocations answered ${check.status}: ${await check.text()}`);
    const answer = await check.text();
    const ours = await fetch(`${service.url}/v1/predict?detect=false`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
    if (!ours.ok) throw new Error(`ferops answered ${ours.status}: ${await ours.text()}`);
    await ours.arrayBuffer();
    console.log(`\n# ${label}: ${seconds}s per cell, ${new Date().toISOString()}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    console.log(`# ${modelDir}; mlflow answer: ${answer.slice(0, 100)}`);
    console.log('| concurrency | ferops crop req/s | p50/p99 ms | mlflow pyfunc req/s | p50/p99 ms | ferops / mlflow | failed ferops/mlflow |');
    console.log('|---|---|---|---|---|---|---|');
    for (const c of CONCURRENCY) {
      // A ViT-B/16 face takes ~125 ms on 2 cores, so 32 callers wait ~4-5 s each on either server: the client
      // timeout is raised so the table counts errors rather than autocannon's 10 s default cutting the queue.
      const f = await autocannonRun(`${service.url}/v1/predict?detect=false`, png, 'image/png', c, seconds, 60);
      const m = await autocannonRun(`${mlflow.url}/invocations`, json, 'application/json', c, seconds, 60);
      const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
      console.log(`| ${c} | ${fmt(f.rps)} | ${f.p50}/${f.p99} | ${fmt(m.rps)} | ${m.p50}/${m.p99} | ${(f.rps / m.rps).toFixed(1)}x | ${f.failed}/${m.failed} |`);
    }
  } finally {
    await mlflow?.stop();
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5);
  const vitSeconds = Number(process.argv[3] ?? 10);
  const gray = Buffer.alloc(48 * 48, 0x77);
  const png = await sharp(gray, { raw: { width: 48, height: 48, channels: 1 } }).png().toBuffer();
  const row = Array.from({ length: 48 }, () => 0x77 / 255);
  const json = Buffer.from(JSON.stringify({ inputs: { pixels: [[Array.from({ length: 48 }, () => row)]] } }));
  console.log(`# ${cpus().length} cores; ferops FEROPS_ORT_THREADS=${process.env.FEROPS_ORT_THREADS ?? '(default)'}`);
  if (process.env.FEROPS_BENCH_MODEL) {
    await compare(process.env.FEROPS_BENCH_MODEL, `FEROPS_BENCH_MODEL=${process.env.FEROPS_BENCH_MODEL}`, seconds, png, json);
    return;
  }
  for (const [name, secs] of [['demo', seconds], ['vit-b16', vitSeconds]] as const) {
    await compare(benchModel(name), BENCH_MODELS[name].label, secs, png, json);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
