import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MetricBuffer, MlflowClient, MlflowError } from '../../lib/mlflow';

// A scripted stand-in for the server: each request takes the next answer, so retry behaviour is exact.
let server: Server;
let answers: { status: number; body: unknown }[] = [];
let seen: { method: string; url: string; contentType?: string; authorization?: string; body: string }[] = [];
let client: MlflowClient;

const read = async (req: IncomingMessage): Promise<string> => {
  let s = '';
  for await (const c of req) s += c;
  return s;
};

before(async () => {
  server = createServer(async (req, res) => {
    seen.push({ method: req.method!, url: req.url!, contentType: req.headers['content-type'], authorization: req.headers.authorization, body: await read(req) });
    const a = answers.shift() ?? { status: 500, body: { error_code: 'INTERNAL_ERROR', message: 'no scripted answer' } };
    res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  client = new MlflowClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
});
after(() => new Promise<void>((r) => server.close(() => r())));

const reset = (a: typeof answers) => {
  answers = a;
  seen = [];
};

describe('MLflow HTTP layer', () => {
  it("when MLflow's credentials are in the environment, then every call carries them (basic-auth app or a bearer proxy)", async () => {
    const url = client.baseUrl;
    const basic = new MlflowClient({ baseUrl: url, env: { MLFLOW_TRACKING_USERNAME: 'ada', MLFLOW_TRACKING_PASSWORD: 'pw:1' } });
    reset([{ status: 200, body: { run: { info: { run_id: 'r1', status: 'RUNNING' }, data: {} } } }, { status: 200, body: {} }]);
    await basic.getRun('r1');
    await basic.setTags('r1', { a: 'b' });
    assert.deepEqual(seen.map((s) => s.authorization), Array(2).fill(`Basic ${Buffer.from('ada:pw:1').toString('base64')}`));
    reset([{ status: 200, body: { run: { info: { run_id: 'r1', status: 'RUNNING' }, data: {} } } }]);
    await new MlflowClient({ baseUrl: url, env: { MLFLOW_TRACKING_TOKEN: 't0k', MLFLOW_TRACKING_USERNAME: 'ignored' } }).getRun('r1');
    assert.equal(seen[0].authorization, 'Bearer t0k');
    reset([{ status: 200, body: { run: { info: { run_id: 'r1', status: 'RUNNING' }, data: {} } } }]);
    await new MlflowClient({ baseUrl: url, env: {} }).getRun('r1');
    assert.equal(seen[0].authorization, undefined, 'no credentials configured, none sent');
  });

  it('when the server answers 503 twice, then the call is retried and succeeds', async () => {
    reset([
      { status: 503, body: { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'busy' } },
      { status: 502, body: 'bad gateway' },
      { status: 200, body: { run: { info: { run_id: 'r1', status: 'RUNNING' }, data: {} } } },
    ]);
    const run = await client.getRun('r1');
    assert.equal(run.info.run_id, 'r1');
    assert.equal(seen.length, 3);
    assert.equal(seen[0].url, '/api/2.0/mlflow/runs/get?run_id=r1');
  });

  it('when posting, then the body is JSON with the content type the server demands', async () => {
    reset([{ status: 200, body: {} }]);
    await client.setTags('r1', { a: 'b' });
    assert.equal(seen[0].method, 'POST');
    assert.equal(seen[0].contentType, 'application/json');
    assert.deepEqual(JSON.parse(seen[0].body), { run_id: 'r1', metrics: [], params: [], tags: [{ key: 'a', value: 'b' }] });
  });

  it('when the server answers 400, then MlflowError carries status and code after one request', async () => {
    reset([{ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE', message: 'bad key' } }]);
    await assert.rejects(client.logParams('r1', { x: 1 }), (e: unknown) => e instanceof MlflowError && e.status === 400 && e.errorCode === 'INVALID_PARAMETER_VALUE' && /bad key/.test(e.message));
    assert.equal(seen.length, 1);
  });

  it('when an alias lookup gets 400 INVALID_PARAMETER_VALUE or 404, then it reads as missing', async () => {
    reset([
      { status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE', message: 'alias not found' } },
      { status: 404, body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'no model' } },
    ]);
    assert.equal(await client.getModelVersionByAlias('m', 'champion'), null);
    assert.equal(await client.getModelVersionByAlias('m', 'champion'), null);
  });

  it('when a metric is NaN or infinite, then it is sent in the spelling the server parses', async () => {
    reset([{ status: 200, body: {} }]);
    await client.logMetrics('r1', [{ key: 'a', value: Number.NaN }, { key: 'b', value: -Infinity }]);
    const sent = JSON.parse(seen[0].body).metrics.map((m: { value: unknown }) => m.value);
    assert.deepEqual(sent, ['NaN', '-Infinity']);
  });

  it('when a log-batch answer is lost after the server stored it, then the re-send skips the points already held', async () => {
    reset([
      { status: 503, body: { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'stored, but answered 503' } },
      { status: 200, body: { metrics: [{ key: 'loss', value: 1, step: 0, timestamp: 1 }] } },
      { status: 200, body: {} },
    ]);
    const buffer = new MetricBuffer({ baseUrl: client.baseUrl, runId: 'r1', retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    buffer.add('loss', 1, 0);
    buffer.add('loss', 0.5, 1);
    await buffer.flush();
    assert.deepEqual(seen.map((r) => r.url.split('?')[0]), ['/api/2.0/mlflow/runs/log-batch', '/api/2.0/mlflow/metrics/get-history', '/api/2.0/mlflow/runs/log-batch']);
    assert.deepEqual(JSON.parse(seen[2].body).metrics.map((m: { step: number }) => m.step), [1]);
    assert.equal(buffer.pending, 0);
  });

  it('when the base URL is not http(s), then the client refuses to start', () => {
    assert.throws(() => new MlflowClient({ baseUrl: '127.0.0.1:5000' }), /http/);
  });
});
