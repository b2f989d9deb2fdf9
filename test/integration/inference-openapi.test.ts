import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { RunningServer } from '../../services/inference/server';
import { ADMIN_TOKEN, model, startTestServer } from '../../services/inference/testing/harness';
import { validate } from '../../services/inference/testing/schema-check';

/**
 * Contract test: real responses, taken from the running server, must be documented in /openapi.json (path,
 * method, status) and match the schema documented for that status.
 */
describe('inference OpenAPI contract', () => {
  let server: RunningServer;
  let spec: any;
  let image: Buffer;
  before(async () => {
    server = await startTestServer();
    spec = await (await fetch(`${server.url}/openapi.json`)).json();
    image = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#777' } }).png().toBuffer();
  });
  after(() => server.stop());

  /** Calls the route and checks the answer against the spec; `template` is the documented path. */
  async function call(method: string, template: string, path: string, init: RequestInit = {}): Promise<number> {
    const res = await fetch(`${server.url}${path}`, { method, ...init });
    const op = spec.paths[template]?.[method.toLowerCase()];
    assert.ok(op, `${method} ${template} is not in openapi.json`);
    const documented = op.responses[String(res.status)];
    assert.ok(documented, `${method} ${template} answered ${res.status}, which openapi.json does not document`);
    const schema = documented.content?.['application/json']?.schema;
    if (schema) {
      const errors = validate(schema, await res.json());
      assert.deepEqual(errors, [], `${method} ${path} ${res.status}`);
    } else await res.arrayBuffer();
    return res.status;
  }

  const auth = (body?: unknown): RequestInit => ({
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const png = (body: Buffer | string = image): RequestInit => ({ headers: { 'content-type': 'image/png' }, body });

  it('when openapi.json is read, then it is OpenAPI 3.1 with every route of the service', () => {
    assert.equal(spec.openapi, '3.1.0');
    const routes = ['/v1/predict', '/admin/v1/slots', '/admin/v1/slots/{slot}', '/admin/v1/traffic', '/admin/v1/promote', '/admin/v1/rollback', '/admin/v1/stats', '/admin/v1/drift', '/admin/v1/feedback', '/v1/feedback', '/healthz', '/readyz', '/metrics', '/openapi.json', '/v1/status', '/', '/assets/{file}'];
    assert.deepEqual(Object.keys(spec.paths).sort(), routes.sort());
  });

  it('when predict answers with faces, without faces and with errors, then each answer matches the spec', async () => {
    assert.equal(await call('POST', '/v1/predict', '/v1/predict?detect=false', png()), 200);
    assert.equal(await call('POST', '/v1/predict', '/v1/predict?detect=false&crops=true', png()), 200);
    assert.equal(await call('GET', '/v1/status', '/v1/status'), 200);
    assert.equal(await call('POST', '/v1/predict', '/v1/predict', png()), 200); // flat image: no face + reason
    assert.equal(await call('POST', '/v1/predict', '/v1/predict', png('not an image')), 415);
    assert.equal(await call('POST', '/v1/predict', '/v1/predict', png(image.subarray(0, 60))), 400);
    assert.equal(await call('POST', '/v1/predict', '/v1/predict', { method: 'POST', headers: { 'content-type': 'image/png' }, body: Buffer.alloc(0) }), 400);
  });

  it('when each admin route answers, then its answer matches the spec', async () => {
    assert.equal(await call('GET', '/admin/v1/slots', '/admin/v1/slots', auth()), 200);
    assert.equal(await call('GET', '/admin/v1/slots', '/admin/v1/slots'), 401);
    assert.equal(await call('PUT', '/admin/v1/slots/{slot}', '/admin/v1/slots/canary', auth({ source: model('constant-happy') })), 200);
    assert.equal(await call('PUT', '/admin/v1/slots/{slot}', '/admin/v1/slots/canary', auth({ source: model('corrupt') })), 422);
    assert.equal(await call('PUT', '/admin/v1/traffic', '/admin/v1/traffic', auth({ canaryWeight: 20, shadow: true })), 200);
    for (let i = 0; i < 4; i++) await call('POST', '/v1/predict', '/v1/predict?detect=false', png());
    assert.equal(await call('GET', '/admin/v1/stats', '/admin/v1/stats?windowSeconds=30', auth()), 200);
    assert.equal(await call('POST', '/admin/v1/promote', '/admin/v1/promote', auth()), 200);
    assert.equal(await call('POST', '/admin/v1/promote', '/admin/v1/promote', auth()), 409);
    assert.equal(await call('POST', '/admin/v1/rollback', '/admin/v1/rollback', auth()), 200);
    assert.equal(await call('DELETE', '/admin/v1/slots/{slot}', '/admin/v1/slots/canary', auth()), 200);
    assert.equal(await call('PUT', '/admin/v1/traffic', '/admin/v1/traffic', auth({ canaryWeight: 'x' })), 400);
  });

  it('when feedback and drift routes answer, then their answers match the spec', async () => {
    const predicted = (await (await fetch(`${server.url}/v1/predict?detect=false`, { method: 'POST', ...png() })).json()) as { requestId: string };
    const feedback = (body: unknown): RequestInit => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(await call('POST', '/v1/feedback', '/v1/feedback', feedback({ requestId: predicted.requestId, faceIndex: 0, label: 'happy' })), 201);
    assert.equal(await call('POST', '/v1/feedback', '/v1/feedback', feedback({ requestId: predicted.requestId, faceIndex: 0, label: 'happy' })), 409);
    assert.equal(await call('POST', '/v1/feedback', '/v1/feedback', feedback({ requestId: 'unknown', faceIndex: 0, label: 3 })), 404);
    assert.equal(await call('POST', '/v1/feedback', '/v1/feedback', feedback({ requestId: predicted.requestId, faceIndex: -1, label: 3 })), 400);
    const passedOn = (await (await fetch(`${server.url}/v1/predict?detect=false`, { method: 'POST', ...png() })).json()) as { requestId: string };
    const label = { requestId: passedOn.requestId, faceIndex: 0, label: 'sad' };
    assert.equal(await call('POST', '/admin/v1/feedback', '/admin/v1/feedback', auth(label)), 200);
    assert.equal(await call('POST', '/admin/v1/feedback', '/admin/v1/feedback', auth(label)), 409);
    assert.equal(await call('POST', '/admin/v1/feedback', '/admin/v1/feedback', auth({ ...label, requestId: 'unknown' })), 404);
    assert.equal(await call('GET', '/admin/v1/drift', '/admin/v1/drift?windowSeconds=60', auth()), 200);
    assert.equal(await call('GET', '/admin/v1/drift', '/admin/v1/drift?windowSeconds=-1', auth()), 400);
  });

  it('when health routes answer, then their answers match the spec', async () => {
    assert.equal(await call('GET', '/healthz', '/healthz'), 200);
    assert.equal(await call('GET', '/readyz', '/readyz'), 200);
    assert.equal(await call('GET', '/metrics', '/metrics'), 200);
  });

  it('when a response breaks the schema, then the checker reports it (the contract test can fail)', () => {
    const errors = validate('PredictResponse', { requestId: 'r', modelVersion: 'v', slot: 'blue', faces: [{}], timingsMs: {}, extra: 1 });
    assert.ok(errors.some((e) => e.includes('$.slot')));
    assert.ok(errors.some((e) => e.includes('$.faces[0].box: missing')));
    assert.ok(errors.some((e) => e.includes('$.extra: not in the schema')));
  });
});
