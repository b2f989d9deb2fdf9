import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { RunningServer } from '../../services/inference/server';
import { admin, model, postImage, startTestServer } from '../../services/inference/testing/harness';

/** FEROPS_ADMIN_PORT: the admin API on a listener of its own, so the network can admit only the pipeline worker. */
describe('inference: admin API on its own port', () => {
  let server: RunningServer;
  before(async () => (server = await startTestServer({ adminPort: 0 })));
  after(() => server.stop());

  it('when FEROPS_ADMIN_PORT is set, then the admin API answers there and predict still answers on the public port', async () => {
    assert.notEqual(server.adminUrl, server.url);
    const slots = await admin(server.adminUrl, 'GET', '/admin/v1/slots');
    assert.equal(slots.status, 200);
    assert.equal(slots.json.stable.version, 'strips');
    const load = await admin(server.adminUrl, 'PUT', '/admin/v1/slots/canary', { source: model('strips'), version: 'again' });
    assert.equal(load.status, 200);
    const face = await sharp(Buffer.alloc(48 * 48, 128), { raw: { width: 48, height: 48, channels: 1 } }).png().toBuffer();
    assert.equal((await postImage(server.url, face, { query: 'detect=false' })).status, 200);
  });

  it('when the admin API is asked for on the public port, in any spelling express would route, then 404', async () => {
    for (const path of ['/admin/v1/slots', '/ADMIN/v1/slots', '//admin/v1/slots', '/%61dmin/v1/slots', '/Admin/v1/slots?x=1']) {
      const res = await admin(server.url, 'GET', path);
      assert.equal(res.status, 404, path);
      assert.equal(res.json.error.code, 'not_found', path);
    }
  });

  it('when anything but the admin API is asked for on the admin port, then 404', async () => {
    const res = await fetch(`${server.adminUrl}/v1/predict?detect=false`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: Buffer.alloc(10) });
    assert.equal(res.status, 404);
    assert.equal((await fetch(`${server.adminUrl}/metrics`)).status, 404);
  });
});
