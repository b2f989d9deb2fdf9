import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MlflowClient, MlflowError, MlflowUnavailableError, fromKeyValues } from '../../lib/mlflow';
import { startMlflowFixture, unique, type MlflowFixture } from './mlflow-fixtures';

let fx: MlflowFixture;
let client: MlflowClient;
let work: string;

before(async () => {
  fx = await startMlflowFixture();
  client = fx.client;
  work = mkdtempSync(join(tmpdir(), 'ferops-'));
});
after(async () => {
  await fx?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('experiments', () => {
  it('when an experiment is asked for twice, then both calls return the same id', async () => {
    const name = unique('exp');
    assert.equal(await client.getExperimentByName(name), null);
    const [a, b] = await Promise.all([client.getOrCreateExperiment(name), client.getOrCreateExperiment(name)]);
    assert.equal(a, b);
    assert.equal((await client.getExperiment(a)).name, name);
  });

  it('when the experiment was deleted, then getOrCreateExperiment restores it instead of failing', async () => {
    const name = unique('deleted');
    const id = await client.createExperiment(name);
    await client.deleteExperiment(id);
    assert.equal(await client.getOrCreateExperiment(name), id);
    assert.equal((await client.getExperiment(id)).lifecycle_stage, 'active');
  });
});

describe('runs', () => {
  it('when params, metrics, tags and inputs are logged, then getRun and searchRuns show them', async () => {
    const exp = await client.getOrCreateExperiment(unique('runs'));
    const run = await client.createRun({ experimentId: exp, runName: 'r1', tags: { 'ferops.run_key': 'k1' } });
    assert.equal(run.info.status, 'RUNNING');
    assert.match(run.info.artifact_uri, /^mlflow-artifacts:\//);
    const id = run.info.run_id;
    await client.logParams(id, { lr: 0.001, epochs: 3 });
    await client.logMetrics(id, [
      { key: 'loss', value: 1.5, step: 0 },
      { key: 'loss', value: 0.5, step: 1 },
      { key: 'weird', value: Number.NaN, step: 0 },
    ]);
    await client.setTags(id, { stage: 'train' });
    await client.logInputs(id, [
      { dataset: { name: 'fer', digest: 'abc123', source_type: 'local', source: '/data/fer' }, tags: [{ key: 'mlflow.data.context', value: 'training' }] },
    ]);
    await client.updateRun(id, 'FINISHED');

    const got = await client.getRun(id);
    assert.equal(got.info.status, 'FINISHED');
    assert.deepEqual(fromKeyValues(got.data.params), { lr: '0.001', epochs: '3' });
    assert.equal(fromKeyValues(got.data.tags).stage, 'train');
    assert.equal(got.data.metrics?.find((m) => m.key === 'loss')?.value, 0.5);
    assert.equal(got.inputs?.dataset_inputs?.[0]?.dataset.digest, 'abc123');
    assert.deepEqual((await client.getMetricHistory(id, 'loss')).map((m) => m.value).sort(), [0.5, 1.5]);

    const found = await client.searchRuns({ experimentIds: [exp], filter: "tags.`ferops.run_key` = 'k1'" });
    assert.deepEqual(found.map((r) => r.info.run_id), [id]);
  });

  it('when a batch exceeds the server limits, then it is split and every item is stored', async () => {
    const exp = await client.getOrCreateExperiment(unique('batch'));
    const id = (await client.createRun({ experimentId: exp })).info.run_id;
    const params = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`p${i}`, i]));
    await client.logParams(id, params);
    await client.logMetrics(id, Array.from({ length: 2500 }, (_, i) => ({ key: 'm', value: i, step: i })));
    assert.equal((await client.getMetricHistory(id, 'm')).length, 2500);
    assert.equal((await client.getRun(id)).data.params?.length, 150);
  });

  it('when a param is changed, then the 400 surfaces at once as MlflowError without retries', async () => {
    const exp = await client.getOrCreateExperiment(unique('param'));
    const id = (await client.createRun({ experimentId: exp })).info.run_id;
    await client.logParams(id, { lr: 1 });
    await client.logParams(id, { lr: 1 }); // the same value again is fine
    const t0 = Date.now();
    await assert.rejects(client.logParams(id, { lr: 2 }), (e: unknown) => e instanceof MlflowError && e.status === 400);
    assert.ok(Date.now() - t0 < 2_000, 'a 4xx must not be retried');
  });

  it('when a run does not exist, then getRun rejects with RESOURCE_DOES_NOT_EXIST', async () => {
    await assert.rejects(client.getRun('0'.repeat(32)), (e: unknown) => e instanceof MlflowError && e.errorCode === 'RESOURCE_DOES_NOT_EXIST');
  });
});

describe('artifacts', () => {
  it('when a directory is uploaded, then it lists recursively and downloads byte for byte', async () => {
    const exp = await client.getOrCreateExperiment(unique('art'));
    const run = await client.createRun({ experimentId: exp });
    const src = join(work, 'src');
    mkdirSync(join(src, 'sub', 'deep'), { recursive: true });
    writeFileSync(join(src, 'a.txt'), 'alpha');
    writeFileSync(join(src, 'sub', 'b.bin'), Buffer.from([0, 1, 2, 255]));
    writeFileSync(join(src, 'sub', 'deep', 'c.json'), '{"c":1}');
    await client.uploadDir(run.info.artifact_uri, src, 'bundle');
    await client.uploadFile(run.info.artifact_uri, join(src, 'a.txt'), 'top/a-copy.txt');

    const listed = await client.listArtifacts(run.info.artifact_uri, 'bundle');
    assert.deepEqual(
      listed.filter((e) => !e.isDir).map((e) => [e.path, e.size]).sort(),
      [['a.txt', 5], ['sub/b.bin', 4], ['sub/deep/c.json', 7]],
    );
    await client.downloadFile(run.info.artifact_uri, 'top/a-copy.txt', join(work, 'one.txt'));
    assert.equal(readFileSync(join(work, 'one.txt'), 'utf8'), 'alpha');
    const dest = join(work, 'dl');
    await client.downloadDir(run.info.artifact_uri, 'bundle', dest);
    assert.deepEqual(readFileSync(join(dest, 'sub', 'b.bin')), Buffer.from([0, 1, 2, 255]));
    assert.equal(readFileSync(join(dest, 'sub', 'deep', 'c.json'), 'utf8'), '{"c":1}');
  });

  it('when the artifact path does not exist, then downloadDir fails clearly', async () => {
    const exp = await client.getOrCreateExperiment(unique('art-missing'));
    const run = await client.createRun({ experimentId: exp });
    await assert.rejects(client.downloadDir(run.info.artifact_uri, 'nothing', join(work, 'none')), /no artifacts/);
  });
});

describe('logged models and registry', () => {
  it('when a LoggedModel is registered, then versions, tags, aliases and downloads work', async () => {
    const exp = await client.getOrCreateExperiment(unique('reg'));
    const run = await client.createRun({ experimentId: exp });
    const lm = await client.createLoggedModel({ experimentId: exp, name: 'model', sourceRunId: run.info.run_id });
    assert.equal(lm.info.status, 'LOGGED_MODEL_PENDING');
    const src = join(work, 'model-src');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'MLmodel'), 'artifact_path: model\n');
    writeFileSync(join(src, 'labels.json'), '["a"]');
    await client.uploadDir(lm.info.artifact_uri, src);
    assert.equal((await client.finalizeLoggedModel(lm.info.model_id)).info.status, 'LOGGED_MODEL_READY');
    await client.logOutputs(run.info.run_id, [{ modelId: lm.info.model_id }]);

    const name = unique('fer');
    await client.createRegisteredModel(name, { tags: { team: 'ferops' } });
    const again = await client.createRegisteredModel(name);
    assert.equal(again.name, name, 'a second create returns the existing model');
    assert.equal((await client.searchRegisteredModels(`name = '${name}'`)).length, 1);
    assert.equal(await client.getRegisteredModel(unique('nope')), null);

    const mv = await client.createModelVersion({
      name,
      source: `models:/${lm.info.model_id}`,
      modelId: lm.info.model_id,
      runId: run.info.run_id,
      tags: { 'ferops.run_key': 'rk-1' },
    });
    assert.equal((await client.waitReady(name, mv.version)).status, 'READY');
    await client.setModelVersionTag(name, mv.version, 'note', 'hello');
    assert.equal(fromKeyValues((await client.getModelVersion(name, mv.version)).tags).note, 'hello');
    const byTag = await client.searchModelVersions(`name = '${name}' and tags.\`ferops.run_key\` = 'rk-1'`);
    assert.deepEqual(byTag.map((v) => v.version), [mv.version]);
    const byRun = await client.searchModelVersions(`run_id = '${run.info.run_id}'`);
    assert.deepEqual(byRun.map((v) => v.version), [mv.version]);

    assert.equal(await client.getModelVersionByAlias(name, 'champion'), null);
    await client.setAlias(name, 'champion', mv.version);
    assert.equal((await client.getModelVersionByAlias(name, 'champion'))?.version, mv.version);
    await client.deleteAlias(name, 'champion');
    await client.deleteAlias(name, 'champion'); // already gone: still fine
    assert.equal(await client.getModelVersionByAlias(name, 'champion'), null);
    assert.equal(await client.getModelVersionByAlias(unique('no-model'), 'champion'), null);
    await assert.rejects(client.setAlias(name, 'latest', mv.version), /invalid alias/);

    const dest = join(work, 'mv');
    await client.downloadModelVersion(name, mv.version, dest);
    assert.equal(readFileSync(join(dest, 'labels.json'), 'utf8'), '["a"]');
    assert.equal(readFileSync(join(dest, 'MLmodel'), 'utf8'), 'artifact_path: model\n');
  });

  it('when a version comes from a plain run artifact path, then it downloads too', async () => {
    const exp = await client.getOrCreateExperiment(unique('reg-run'));
    const run = await client.createRun({ experimentId: exp });
    const src = join(work, 'run-model');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'model.onnx'), 'not really onnx');
    await client.uploadDir(run.info.artifact_uri, src, 'model');
    const name = unique('fer-run');
    await client.createRegisteredModel(name);
    const mv = await client.createModelVersion({ name, source: `${run.info.artifact_uri}/model`, runId: run.info.run_id });
    const dest = join(work, 'mv-run');
    await client.downloadModelVersion(name, mv.version, dest);
    assert.equal(readFileSync(join(dest, 'model.onnx'), 'utf8'), 'not really onnx');
  });
});

describe('unreachable server', () => {
  it('when nothing listens, then the call fails with MlflowUnavailableError after its budget', async () => {
    const dead = new MlflowClient({ baseUrl: 'http://127.0.0.1:9', retry: { attempts: 3, totalTimeoutMs: 2_000, maxDelayMs: 200 } });
    const t0 = Date.now();
    await assert.rejects(dead.getRun('x'), (e: unknown) => e instanceof MlflowUnavailableError && e.attempts === 3);
    assert.ok(Date.now() - t0 < 3_000);
  });
});
