import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { freePort } from '../../infra/processes/managed-process';
import { REPO_ROOT } from '../../lib/paths';
import { fixtureModels, model, postImage, startTestServer } from '../../services/inference/testing/harness';

const image = () => sharp({ create: { width: 640, height: 480, channels: 3, background: '#999' } }).jpeg().toBuffer();

/** main.ts as an orchestrator runs it, on a free port with `env` added; resolves `listening` with its URL. */
function spawnMain(env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services', 'inference', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, FEROPS_INFERENCE_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line in 60 s:\n${out}`)), 60_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before listening:\n${out}`));
    });
    child.stdout.on('data', () => {
      const m = /"msg":"inference service listening","url":"([^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return { child, exited, listening, output: () => out };
}

describe('inference process lifecycle', () => {
  it('when stop() is called with requests in flight, then they complete before it resolves', async () => {
    const server = await startTestServer();
    const img = await image();
    const inflight = Array.from({ length: 10 }, () => postImage(server.url, img, { contentType: 'image/jpeg' }));
    // Wait until the server has routed all ten (in flight or done): requests still in the kernel's accept queue
    // when the listener closes are refused, which is the load balancer's business, not a drain failure.
    const started = () => server.ctx.slots.get('stable')!.inFlight + server.ctx.stats.slot('stable', 'strips', 60).requests;
    while (started() < 10) await new Promise((r) => setTimeout(r, 2));
    assert.ok(server.ctx.slots.get('stable')!.inFlight > 0, 'some requests are still in flight when stop() is called');
    await server.stop();
    const results = await Promise.all(inflight);
    assert.deepEqual(results.map((r) => r.status), Array(10).fill(200));
    await assert.rejects(fetch(`${server.url}/healthz`), 'no longer listening');
  });

  it('when a client sends its body too slowly, then the request times out with 408 and the socket is freed', async () => {
    const server = await startTestServer({ requestTimeoutMs: 1000 });
    try {
      const socket = connect(server.port, '127.0.0.1');
      let answer = '';
      socket.on('data', (d) => (answer += d));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.write('POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n\x89PNG');
      const t0 = Date.now();
      await closed;
      assert.match(answer, /^HTTP\/1\.1 408/);
      assert.ok(Date.now() - t0 < 5000, `closed after ${Date.now() - t0} ms`);
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    } finally {
      await server.stop();
    }
  });

  it('when main.ts gets SIGTERM, then it drains, logs JSON and exits 0', async () => {
    const { child, output, exited, listening } = spawnMain({
      FEROPS_MODEL_DIRS: fixtureModels(),
      FEROPS_STABLE_MODEL: model('strips'),
      FEROPS_ADMIN_TOKEN: 'a-secret-token-that-must-not-be-logged',
    });
    try {
      const url = await listening;
      const inflight = postImage(url, await image(), { contentType: 'image/jpeg' });
      await new Promise((r) => setTimeout(r, 10));
      child.kill('SIGTERM');
      assert.equal((await inflight).status, 200);
      assert.equal(await exited, 0);
      const out = output();
      const lines = out.trim().split('\n');
      for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
      const access = lines.map((l) => JSON.parse(l)).find((j) => j.msg === 'request' && j.path === '/v1/predict');
      assert.ok(access?.requestId && access.status === 200 && access.slot === 'stable' && access.modelVersion, JSON.stringify(access));
      assert.ok(lines.some((l) => JSON.parse(l).msg === 'shutting down'));
      assert.doesNotMatch(out, /a-secret-token/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('when main.ts gets SIGTERM while the registry it follows is unreachable, then it exits 0 without waiting out the registry', async () => {
    const { child, exited, listening } = spawnMain({ FEROPS_DESIRED_STATE: 'mlflow', FEROPS_MLFLOW_URL: `http://127.0.0.1:${await freePort()}`, FEROPS_ADMIN_TOKEN: 'a-token-for-this-test' });
    try {
      await listening;
      // Its first read of the desired state is under way, against a port nothing listens on.
      const t0 = Date.now();
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      // Before, the read waited out the registry client's minute of retries before the exit (docs/reliability.md,
      // "The local stack and shutdown"); now a few quick tries. The loose bound tells the two apart on any host.
      assert.ok(Date.now() - t0 < 20_000, `exited ${Date.now() - t0} ms after SIGTERM`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('when main.ts starts with a bad config, then it exits 1 naming the key', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services', 'inference', 'main.ts')], {
      cwd: REPO_ROOT,
      env: { ...process.env, FEROPS_INFERENCE_PORT: 'eighty' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 1);
    assert.match(err, /FEROPS_INFERENCE_PORT/);
  });
});
