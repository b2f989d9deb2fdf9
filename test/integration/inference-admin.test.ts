import assert from 'node:assert/strict';
import { cpSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import sharp from 'sharp';
import type { RunningServer } from '../../services/inference/server';
import { admin, fixtureModels, model, postImage, startTestServer } from '../../services/inference/testing/harness';

const crop = () => sharp({ create: { width: 48, height: 48, channels: 3, background: '#808080' } }).png().toBuffer();

describe('inference admin API', () => {
  let server: RunningServer;
  let image: Buffer;
  before(async () => {
    server = await startTestServer();
    image = await crop();
  });
  after(() => server.stop());
  beforeEach(async () => {
    await admin(server.url, 'POST', '/admin/v1/rollback');
    await admin(server.url, 'PUT', '/admin/v1/slots/stable', { source: model('strips') });
  });

  it('when no token is sent, then 401; a wrong token, then 403', async () => {
    for (const [method, path] of [['GET', '/admin/v1/slots'], ['POST', '/admin/v1/promote'], ['PUT', '/admin/v1/traffic'], ['GET', '/admin/v1/stats']]) {
      const none = await admin(server.url, method, path, undefined, null);
      assert.equal(none.status, 401, `${method} ${path}`);
      assert.equal(none.json.error.code, 'unauthorized');
      const wrong = await admin(server.url, method, path, undefined, 'not-the-token-at-all');
      assert.equal(wrong.status, 403);
      assert.equal(wrong.json.error.code, 'forbidden');
    }
  });

  it('when a canary is loaded, then GET slots shows both and the answer has version, checksum and loadedAt', async () => {
    const put = await admin(server.url, 'PUT', '/admin/v1/slots/canary', { source: model('constant-happy'), version: 'happy-1' });
    assert.equal(put.status, 200);
    assert.equal(put.json.slot, 'canary');
    assert.equal(put.json.version, 'happy-1');
    assert.match(put.json.checksum, /^[0-9a-f]{64}$/);
    assert.ok(!Number.isNaN(Date.parse(put.json.loadedAt)));
    const slots = await admin(server.url, 'GET', '/admin/v1/slots');
    assert.equal(slots.json.stable.version, 'strips');
    assert.equal(slots.json.canary.version, 'happy-1');
    assert.deepEqual(slots.json.traffic, { canaryWeight: 0, shadow: false });
  });

  for (const [fixture, pattern] of [
    ['failing', /warm-up run failed/],
    ['wrong-input', /input pixels is float32 \[B, 3, 224, 224\]/],
    ['corrupt', /not a loadable ONNX model/],
    ['no-labels', /labels\.json is missing/],
    ['bad-labels', /labels\.json must be/],
  ] as const) {
    it(`when the ${fixture} model is loaded, then 422 invalid_model and the slot keeps its model`, async () => {
      const res = await admin(server.url, 'PUT', '/admin/v1/slots/stable', { source: model(fixture) });
      assert.equal(res.status, 422);
      assert.equal(res.json.error.code, 'invalid_model');
      assert.match(res.json.error.message, pattern);
      const pred = await postImage(server.url, image, { query: 'detect=false' });
      assert.equal(pred.status, 200);
      assert.equal(pred.json.modelVersion, 'strips');
    });
  }

  it('when the source escapes FEROPS_MODEL_DIRS (.., symlink, relative, missing), then it is refused', async () => {
    const outside = join(tmpdir(), `ferops-outside-${process.pid}`);
    mkdirSync(outside, { recursive: true });
    const link = join(fixtureModels(), 'escape-link');
    try {
      symlinkSync(outside, link);
    } catch {
      /* exists from an earlier run */
    }
    const cases: [string, number, string][] = [
      [`${fixtureModels()}/../../etc`, 403, 'source_not_allowed'],
      [link, 403, 'source_not_allowed'],
      ['strips', 400, 'invalid_source'],
      [`${fixtureModels()}/does-not-exist`, 404, 'model_not_found'],
      ['models:/bad name/1', 400, 'invalid_source'],
    ];
    try {
      for (const [source, status, code] of cases) {
        const res = await admin(server.url, 'PUT', '/admin/v1/slots/canary', { source });
        assert.equal(res.status, status, source);
        assert.equal(res.json.error.code, code, source);
      }
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('when bodies or slot names are invalid, then 400 invalid_request', async () => {
    assert.equal((await admin(server.url, 'PUT', '/admin/v1/slots/blue', { source: model('strips') })).status, 400);
    assert.equal((await admin(server.url, 'PUT', '/admin/v1/slots/canary', { nope: 1 })).json.error.code, 'invalid_request');
    assert.equal((await admin(server.url, 'PUT', '/admin/v1/traffic', { canaryWeight: 101 })).status, 400);
    assert.equal((await admin(server.url, 'DELETE', '/admin/v1/slots/stable')).status, 400);
    const bad = await fetch(`${server.url}/admin/v1/traffic`, { method: 'PUT', headers: { authorization: 'Bearer test-admin-token-0123456789', 'content-type': 'application/json' }, body: '{"canaryWeight":' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as any).error.code, 'invalid_json');
  });

  it('when a version holds a line break, a control character, non-ASCII text or edge spaces, then 400 invalid_request and predict keeps answering', async () => {
    const bad = ['v1\r\nx-injected: yes', 'v1\n', 'v1\r', 'tab\there', 'nul\u0000', 'del\u007f', 'модель-1', '版本2', 'smile 😀', 'café', ' lead', 'trail '];
    for (const version of bad) {
      const res = await admin(server.url, 'PUT', '/admin/v1/slots/stable', { source: model('constant-happy'), version });
      assert.equal(res.status, 400, JSON.stringify(version));
      assert.equal(res.json.error.code, 'invalid_request', JSON.stringify(version));
      assert.match(res.json.error.message, /version: must be printable ASCII/);
    }
    const pred = await postImage(server.url, image, { query: 'detect=false' });
    assert.equal(pred.status, 200);
    assert.equal(pred.headers.get('x-model-version'), 'strips');
    const fine = 'ferops-fer/12 (build 3+int8)';
    assert.equal((await admin(server.url, 'PUT', '/admin/v1/slots/stable', { source: model('constant-happy'), version: fine })).status, 200);
    assert.equal((await postImage(server.url, image, { query: 'detect=false' })).headers.get('x-model-version'), fine);
  });

  it('when the version would come from a model directory named with a line break or non-Latin-1 text, then 400 unless a version is given', async () => {
    const dirs = ['happy\r\nx-injected: 1', 'счастье'].map((name) => join(fixtureModels(), name));
    try {
      for (const dir of dirs) {
        cpSync(model('constant-happy'), dir, { recursive: true });
        const res = await admin(server.url, 'PUT', '/admin/v1/slots/stable', { source: dir });
        assert.equal(res.status, 400, dir);
        assert.equal(res.json.error.code, 'invalid_request');
        assert.match(res.json.error.message, /derived from the source, must be printable ASCII.*give one in "version"/);
        assert.equal((await postImage(server.url, image, { query: 'detect=false' })).headers.get('x-model-version'), 'strips');
        assert.equal((await admin(server.url, 'PUT', '/admin/v1/slots/stable', { source: dir, version: 'happy-renamed' })).status, 200);
        const pred = await postImage(server.url, image, { query: 'detect=false' });
        assert.equal(pred.status, 200);
        assert.equal(pred.headers.get('x-model-version'), 'happy-renamed');
        await admin(server.url, 'PUT', '/admin/v1/slots/stable', { source: model('strips') });
      }
    } finally {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when traffic or promote is asked without a canary, then 409 no_canary', async () => {
    assert.equal((await admin(server.url, 'PUT', '/admin/v1/traffic', { canaryWeight: 10 })).status, 409);
    assert.equal((await admin(server.url, 'POST', '/admin/v1/promote')).json.error.code, 'no_canary');
  });

  it('when the canary weight is 100, then every request is answered by the canary; 0, then by stable', async () => {
    await admin(server.url, 'PUT', '/admin/v1/slots/canary', { source: model('constant-happy'), version: 'happy' });
    await admin(server.url, 'PUT', '/admin/v1/traffic', { canaryWeight: 100 });
    for (let i = 0; i < 5; i++) {
      const r = await postImage(server.url, image, { query: 'detect=false' });
      assert.equal(r.json.slot, 'canary');
      assert.equal(r.json.faces[0].label, 'happy');
      assert.equal(r.headers.get('x-model-version'), 'happy');
    }
    await admin(server.url, 'PUT', '/admin/v1/traffic', { canaryWeight: 0 });
    assert.equal((await postImage(server.url, image, { query: 'detect=false' })).json.slot, 'stable');
  });

  it('when a route key is sent, then the same key always lands on the same slot', async () => {
    await admin(server.url, 'PUT', '/admin/v1/slots/canary', { source: model('constant-happy') });
    await admin(server.url, 'PUT', '/admin/v1/traffic', { canaryWeight: 50 });
    const seen = new Set<string>();
    for (let key = 0; key < 12; key++) {
      const slots = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const r = await postImage(server.url, image, { query: 'detect=false', headers: { 'x-ferops-route-key': `user-${key}` } });
        slots.add(r.json.slot);
      }
      assert.equal(slots.size, 1, `key user-${key} flapped`);
      seen.add([...slots][0]);
    }
    assert.equal(seen.size, 2, 'with weight 50, twelve keys should hit both slots');
  });

  it('when shadow mode is on, then stable answers and stats record the canary agreement', async () => {
    await admin(server.url, 'PUT', '/admin/v1/slots/canary', { source: model('constant-happy'), version: 'shadow-happy' });
    await admin(server.url, 'PUT', '/admin/v1/traffic', { shadow: true });
    const before = (await admin(server.url, 'GET', '/admin/v1/stats?windowSeconds=600')).json.shadow.compared;
    // Strip 3 makes the strips model answer "happy" (agrees); strip 0 makes it "angry" (disagrees).
    const edges = [0, 6, 13, 20, 27, 34, 41, 48];
    const strip = async (k: number) => {
      const px = Buffer.alloc(48 * 48);
      for (let y = 0; y < 48; y++) for (let x = edges[k]; x < edges[k + 1]; x++) px[y * 48 + x] = 255;
      return sharp(px, { raw: { width: 48, height: 48, channels: 1 } }).png().toBuffer();
    };
    for (const k of [3, 3, 0, 0]) {
      const r = await postImage(server.url, await strip(k), { query: 'detect=false' });
      assert.equal(r.json.slot, 'stable');
    }
    await new Promise((r) => setTimeout(r, 100)); // shadow runs after the answer is sent
    const stats = await admin(server.url, 'GET', '/admin/v1/stats?windowSeconds=600');
    assert.equal(stats.json.shadow.compared - before, 4);
    assert.equal(stats.json.slots.canary.version, 'shadow-happy');
    assert.equal(stats.json.slots.canary.requests, 0, 'shadow requests are not canary-answered requests');
  });

  it('when promote runs, then the canary becomes stable and the canary slot is emptied with weight 0', async () => {
    await admin(server.url, 'PUT', '/admin/v1/slots/canary', { source: model('constant-sad'), version: 'sad-2' });
    await admin(server.url, 'PUT', '/admin/v1/traffic', { canaryWeight: 30, shadow: true });
    const res = await admin(server.url, 'POST', '/admin/v1/promote');
    assert.equal(res.status, 200);
    assert.equal(res.json.stable.version, 'sad-2');
    assert.equal(res.json.canary, null);
    assert.deepEqual(res.json.traffic, { canaryWeight: 0, shadow: false });
    assert.equal((await postImage(server.url, image, { query: 'detect=false' })).json.faces[0].label, 'sad');
  });

  it('when rollback runs, then weight 0, shadow off and the canary is gone', async () => {
    await admin(server.url, 'PUT', '/admin/v1/slots/canary', { source: model('constant-happy') });
    await admin(server.url, 'PUT', '/admin/v1/traffic', { canaryWeight: 40, shadow: true });
    const res = await admin(server.url, 'POST', '/admin/v1/rollback');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.traffic, { canaryWeight: 0, shadow: false });
    assert.equal(res.json.canary, null);
    const del = await admin(server.url, 'DELETE', '/admin/v1/slots/canary');
    assert.equal(del.status, 200);
  });

  it('when stats are read, then per-slot counts, classes, latency quantiles and no-face rate cover the window', async () => {
    await admin(server.url, 'PUT', '/admin/v1/slots/stable', { source: model('constant-sad'), version: 'stats-sad' });
    for (let i = 0; i < 3; i++) await postImage(server.url, image, { query: 'detect=false' });
    await postImage(server.url, image); // detection on a flat image: no face
    const s = (await admin(server.url, 'GET', '/admin/v1/stats?windowSeconds=60')).json;
    assert.equal(s.windowSeconds, 60);
    const stable = s.slots.stable;
    assert.equal(stable.version, 'stats-sad');
    assert.equal(stable.requests, 4);
    assert.equal(stable.errors, 0);
    assert.equal(stable.faces, 3);
    assert.equal(stable.classCounts.sad, 3);
    assert.equal(stable.noFaceRate, 0.25);
    assert.ok(stable.meanConfidence > 0.9);
    assert.ok(stable.latencyMs.p50 <= stable.latencyMs.p95 && stable.latencyMs.p95 <= stable.latencyMs.p99);
    assert.equal((await admin(server.url, 'GET', '/admin/v1/stats?windowSeconds=0')).status, 400);
  });

  it('when the model fails at run time on one input, then that request is a 500 and concurrent ones still succeed', async () => {
    await admin(server.url, 'PUT', '/admin/v1/slots/stable', { source: model('fails-on-bright'), version: 'poison' });
    const bright = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#ffffff' } }).png().toBuffer();
    const results = await Promise.all([
      postImage(server.url, image, { query: 'detect=false' }),
      postImage(server.url, bright, { query: 'detect=false' }),
      postImage(server.url, image, { query: 'detect=false' }),
    ]);
    assert.deepEqual(results.map((r) => r.status), [200, 500, 200]);
    assert.equal(results[1].json.error.code, 'inference_failed');
    assert.match(results[1].json.error.message, /model poison failed to run/);
    const stats = (await admin(server.url, 'GET', '/admin/v1/stats')).json.slots.stable;
    assert.equal(stats.requests, 3);
    assert.equal(stats.errors, 1);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /ferops_inference_requests_total\{slot="stable",version="poison",status="500"\} 1/);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  it('when 200 requests are in flight while loading, promoting and rolling back, then none fails', async () => {
    const versions = new Set<string>();
    const original = server.ctx.slots.get('stable')!;
    const inflight = Array.from({ length: 200 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i % 20));
      const r = await postImage(server.url, image, { query: 'detect=false' });
      versions.add(r.json.modelVersion);
      return r.status;
    });
    const swaps = (async () => {
      await admin(server.url, 'PUT', '/admin/v1/slots/canary', { source: model('constant-happy'), version: 'load-1' });
      await admin(server.url, 'PUT', '/admin/v1/traffic', { canaryWeight: 50, shadow: true });
      assert.equal((await admin(server.url, 'POST', '/admin/v1/promote')).status, 200);
      await admin(server.url, 'PUT', '/admin/v1/slots/canary', { source: model('constant-sad'), version: 'load-2' });
      await admin(server.url, 'PUT', '/admin/v1/traffic', { canaryWeight: 50 });
      assert.equal((await admin(server.url, 'POST', '/admin/v1/rollback')).status, 200);
      await admin(server.url, 'PUT', '/admin/v1/slots/stable', { source: model('strips'), version: 'load-3' });
      await admin(server.url, 'PUT', '/admin/v1/slots/stable', { source: model('failing') }); // refused, keeps load-3
    })();
    const statuses = await Promise.all(inflight);
    await swaps;
    assert.deepEqual(statuses.filter((s) => s !== 200), []);
    assert.ok(versions.size >= 2, `requests should have seen several models, saw ${[...versions]}`);
    assert.equal(server.ctx.slots.get('stable')!.info.version, 'load-3');
    assert.equal(server.ctx.slots.get('stable')!.inFlight, 0);
    assert.ok(original.isReleased, 'the replaced model released its session once its requests finished');
  });
});

describe('inference admin audit log', () => {
  let server: RunningServer;
  let token: string;
  /** What the service logged: tests run with FEROPS_LOG_LEVEL=silent, so its logger is swapped for one that keeps lines. */
  const lines: Record<string, any>[] = [];
  let seq = 0;
  before(async () => {
    ({ ADMIN_TOKEN: token } = await import('../../services/inference/testing/harness'));
    server = await startTestServer();
    const keep = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => void lines.push({ level, msg, ...fields });
    server.ctx.logger = { info: keep('info'), error: keep('error'), audit: keep('audit') };
  });
  after(() => server.stop());

  /** One admin call under its own request id; answers its status and the audit lines logged under that id. */
  const call = async (method: string, path: string, opts: { body?: unknown; raw?: string; token?: string | null } = {}) => {
    const requestId = `audit-${++seq}`;
    const headers: Record<string, string> = { 'x-request-id': requestId };
    const bearer = opts.token === undefined ? token : opts.token;
    if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
    const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${server.url}${path}`, { method, headers, body });
    await res.arrayBuffer();
    return { status: res.status, audit: lines.filter((l) => l.level === 'audit' && l.requestId === requestId) };
  };
  const state = (stable: string | null, canary: string | null, canaryWeight = 0, shadow = false) => ({ stable, canary, canaryWeight, shadow });

  it('when admin calls change the slots, then each leaves one audit line with its request id, caller, action and the versions and weight before and after', async () => {
    const steps: [string, string, unknown, string, ReturnType<typeof state>, ReturnType<typeof state>][] = [
      ['PUT', '/admin/v1/slots/canary', { source: model('constant-happy'), version: 'audit-happy' }, 'load-slot', state('strips', null), state('strips', 'audit-happy')],
      ['PUT', '/admin/v1/traffic', { canaryWeight: 25, shadow: true }, 'set-traffic', state('strips', 'audit-happy'), state('strips', 'audit-happy', 25, true)],
      ['POST', '/admin/v1/promote', undefined, 'promote', state('strips', 'audit-happy', 25, true), state('audit-happy', null)],
      ['PUT', '/admin/v1/slots/canary', { source: model('constant-sad'), version: 'audit-sad' }, 'load-slot', state('audit-happy', null), state('audit-happy', 'audit-sad')],
      ['POST', '/admin/v1/rollback', undefined, 'rollback', state('audit-happy', 'audit-sad'), state('audit-happy', null)],
      ['GET', '/admin/v1/slots', undefined, 'read-slots', state('audit-happy', null), state('audit-happy', null)],
    ];
    for (const [method, path, body, action, before, after] of steps) {
      const res = await call(method, path, { body });
      assert.equal(res.status, 200, `${method} ${path}`);
      assert.equal(res.audit.length, 1, `${method} ${path}: one audit line`);
      const [line] = res.audit;
      assert.equal(line.msg, 'admin call');
      assert.equal(line.action, action);
      assert.equal(line.method, method);
      assert.equal(line.path, path);
      assert.equal(line.client, '127.0.0.1');
      assert.match(line.peer, /^(::ffff:)?127\.0\.0\.1$/);
      assert.equal(line.status, 200);
      assert.equal(line.outcome, 'done');
      assert.equal(line.reason, undefined);
      assert.deepEqual(line.before, before, `${action}: before`);
      assert.deepEqual(line.after, after, `${action}: after`);
      if (action === 'load-slot') assert.equal(line.source, (body as { source: string }).source, 'the model source a load asked for');
    }
  });

  it('when an admin call is refused, then its audit line gives the status and the reason, the state is unchanged and no line holds a token', async () => {
    const wrongToken = 'not-the-token-at-all';
    const cases: [string, string, Parameters<typeof call>[2], number, string, string][] = [
      ['POST', '/admin/v1/promote', { token: null }, 401, 'unauthorized', 'promote'],
      ['PUT', '/admin/v1/traffic', { token: wrongToken, body: { canaryWeight: 100 } }, 403, 'forbidden', 'set-traffic'],
      ['PUT', '/admin/v1/slots/canary', { token: `${token}x` }, 403, 'forbidden', 'load-slot'],
      ['PUT', '/admin/v1/traffic', { body: { canaryWeight: 101 } }, 400, 'invalid_request', 'set-traffic'],
      ['PUT', '/admin/v1/traffic', { raw: '{"canaryWeight":' }, 400, 'invalid_json', 'set-traffic'],
      ['POST', '/admin/v1/promote', {}, 409, 'no_canary', 'promote'],
      ['PUT', '/admin/v1/slots/stable', { body: { source: model('failing') } }, 422, 'invalid_model', 'load-slot'],
      ['DELETE', '/admin/v1/slots/stable', {}, 400, 'invalid_request', 'clear-slot'],
      ['POST', '/admin/v1/reboot', {}, 404, 'not_found', 'unknown'],
    ];
    const unchanged = state(server.ctx.slots.get('stable')!.info.version, null);
    for (const [method, path, opts, status, reason, action] of cases) {
      const res = await call(method, path, opts);
      assert.equal(res.status, status, `${method} ${path}`);
      assert.equal(res.audit.length, 1, `${method} ${path}: one audit line`);
      const [line] = res.audit;
      assert.equal(line.action, action, `${method} ${path}`);
      assert.equal(line.status, status);
      assert.equal(line.outcome, 'refused');
      assert.equal(line.reason, reason);
      assert.ok(typeof line.detail === 'string' && line.detail.length > 0, 'the message the caller got');
      assert.deepEqual(line.before, unchanged);
      assert.deepEqual(line.after, unchanged);
    }
    const everything = JSON.stringify(lines);
    assert.ok(!everything.includes(token) && !everything.includes(wrongToken), 'a token reached the log');
  });

  it('when the log level is error, then audit lines are still written, and silent writes none', async () => {
    const { spawnSync } = await import('node:child_process');
    const logger = join(__dirname, '..', '..', 'services', 'inference', 'logger.ts');
    const script = [
      `const { createLogger } = require(${JSON.stringify(logger)});`,
      `createLogger('error').info('request', { dropped: true });`,
      `createLogger('error').audit('admin call', { action: 'promote' });`,
      `createLogger('silent').audit('admin call', { action: 'rollback' });`,
    ].join('\n');
    const run = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const out = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(out.map(({ level, msg, action }) => ({ level, msg, action })), [{ level: 'audit', msg: 'admin call', action: 'promote' }]);
  });
});
