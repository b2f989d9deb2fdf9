import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { RunningServer } from '../../services/inference/server';
import { admin, model, postImage, startTestServer } from '../../services/inference/testing/harness';
import { type MlflowFixture, startMlflowFixture, unique } from './mlflow-fixtures';

/** `models:/` sources against a real MLflow server: download, checksum, cache reuse, refusals. */
describe('inference: loading models from the MLflow registry', () => {
  let fx: MlflowFixture;
  let server: RunningServer;
  let name: string;
  const sha = createHash('sha256').update(readFileSync(join(model('strips'), 'model.onnx'))).digest('hex');

  before(async () => {
    fx = await startMlflowFixture();
    const { client } = fx;
    const run = await client.createRun({ experimentId: await client.getOrCreateExperiment(unique('inference-registry')) });
    await client.uploadDir(run.info.artifact_uri, model('strips'), 'model');
    name = unique('fer');
    await client.createRegisteredModel(name);
    const good = await client.createModelVersion({ name, source: `${run.info.artifact_uri}/model`, runId: run.info.run_id, tags: { 'ferops.model_sha256': sha } });
    await client.waitReady(name, good.version);
    await client.setAlias(name, 'champion', good.version);
    const lying = await client.createModelVersion({ name, source: `${run.info.artifact_uri}/model`, runId: run.info.run_id, tags: { 'ferops.model_sha256': '0'.repeat(64) } });
    await client.waitReady(name, lying.version);
    const another = await client.createModelVersion({ name, source: `${run.info.artifact_uri}/model`, runId: run.info.run_id, tags: { 'ferops.model_sha256': sha } });
    await client.waitReady(name, another.version);
    server = await startTestServer({ mlflowUrl: fx.server.url });
  });
  after(async () => {
    await server?.stop();
    await fx?.stop();
  });

  it('when a canary is loaded by alias, then it is downloaded, verified and answers traffic', async () => {
    const res = await admin(server.url, 'PUT', '/admin/v1/slots/canary', { source: `models:/${name}@champion` });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.version, '1', "the registry's version number, as the pipeline names it");
    assert.equal(res.json.checksum, sha);
    await admin(server.url, 'PUT', '/admin/v1/traffic', { canaryWeight: 100 });
    const img = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#555' } }).png().toBuffer();
    const pred = await postImage(server.url, img, { query: 'detect=false' });
    assert.equal(pred.json.slot, 'canary');
    assert.equal(pred.json.modelVersion, '1', "the registry's version number, as the pipeline names it");
  });

  it('when the same version is loaded again, then the cached copy is reused', async () => {
    const cached = join(server.ctx.config.modelCacheDir, name, '1', 'model.onnx');
    const before = statSync(cached).mtimeMs;
    const res = await admin(server.url, 'PUT', '/admin/v1/slots/stable', { source: `models:/${name}/1` });
    assert.equal(res.status, 200);
    assert.equal(statSync(cached).mtimeMs, before);
  });

  it('when the download does not match the registry checksum tag, then 422 and the slot keeps its model', async () => {
    const res = await admin(server.url, 'PUT', '/admin/v1/slots/canary', { source: `models:/${name}/2` });
    assert.equal(res.status, 422);
    assert.equal(res.json.error.code, 'checksum_mismatch');
    assert.equal((await admin(server.url, 'GET', '/admin/v1/slots')).json.canary.version, '1', "the registry's version number, as the pipeline names it");
  });

  it('when the version or alias does not exist, then 404 model_not_found', async () => {
    for (const source of [`models:/${name}/99`, `models:/${name}@nope`, `models:/${unique('missing')}/1`]) {
      const res = await admin(server.url, 'PUT', '/admin/v1/slots/canary', { source });
      assert.equal(res.status, 404, `${source}: ${JSON.stringify(res.json)}`);
      assert.equal(res.json.error.code, 'model_not_found');
    }
  });

  it('when versions leave the slots, then their downloads leave the cache: it holds only what the slots serve', async () => {
    const cached = () => readdirSync(join(server.ctx.config.modelCacheDir, name)).sort();
    assert.deepEqual(cached(), ['1'], 'stable and canary both serve version 1');
    assert.equal((await admin(server.url, 'PUT', '/admin/v1/slots/canary', { source: `models:/${name}/3` })).status, 200);
    assert.deepEqual(cached(), ['1', '3']);
    assert.equal((await admin(server.url, 'POST', '/admin/v1/promote')).status, 200);
    assert.deepEqual(cached(), ['3'], 'the promoted canary replaced version 1 in stable');
    assert.equal((await admin(server.url, 'PUT', '/admin/v1/slots/stable', { source: model('strips') })).status, 200);
    assert.deepEqual(cached(), [], 'a local model dir serves now: nothing of the registry is kept');
  });
});
