import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { fromKeyValues, type MlflowClient } from '../../lib/mlflow';
import { REPO_ROOT, pythonBin } from '../../lib/paths';
import { facesToTensorData } from '../../lib/preprocess';
import { CHAMPION, PREVIOUS, logModel, promoteChampion, registerModel, tagRollback } from '../../activities/register';
import { CHALLENGER } from '../../activities/register/register-model';
import { startMlflowFixture, unique, type MlflowFixture } from './mlflow-fixtures';

let fx: MlflowFixture;
let client: MlflowClient;
let models: string;
const gate = { minAccuracy: 0.5, maxDropVsChampion: 0.02 };

before(async () => {
  fx = await startMlflowFixture();
  client = fx.client;
  models = mkdtempSync(join(tmpdir(), 'ferops-'));
  execFileSync(pythonBin(), [join(REPO_ROOT, 'test', 'fixtures', 'make_models.py'), models], { stdio: 'ignore' });
});
after(async () => {
  await fx?.stop();
  rmSync(models, { recursive: true, force: true });
});

async function newRun(): Promise<{ experimentId: string; runId: string }> {
  const experimentId = await client.getOrCreateExperiment(unique('register'));
  return { experimentId, runId: (await client.createRun({ experimentId })).info.run_id };
}

describe('logModel', () => {
  it('when a model dir is logged twice (a retry), then one LoggedModel holds the MLflow model files', async () => {
    const { experimentId, runId } = await newRun();
    const first = await logModel({ client, runId, experimentId, modelDir: join(models, 'strips'), name: 'fer-vit' });
    const again = await logModel({ client, runId, experimentId, modelDir: join(models, 'strips'), name: 'fer-vit' });
    assert.match(first.modelUri, /^models:\/m-/);
    assert.equal(again.modelId, first.modelId);
    assert.match(first.modelSha256, /^[0-9a-f]{64}$/);
    const files = (await client.listArtifacts(first.artifactPath)).map((e) => e.path).sort();
    assert.deepEqual(files, ['MLmodel', 'labels.json', 'metrics.json', 'model.int8.onnx', 'model.onnx', 'preprocess.json', 'python_env.yaml', 'requirements.txt']);
    assert.equal((await client.getLoggedModel(first.modelId!)).info.status, 'LOGGED_MODEL_READY');
  });

  it('when the LoggedModel flow is off, then the model lands under the run and registers and downloads from there', async () => {
    const { experimentId, runId } = await newRun();
    const ref = await logModel({ client, runId, experimentId, modelDir: join(models, 'strips'), name: 'm', useLoggedModel: false });
    assert.match(ref.modelUri, /^mlflow-artifacts:\/.*\/artifacts\/model$/);
    assert.equal(ref.modelId, undefined);
    const name = unique('fer-run');
    const r = await registerModel({ client, name, runId, runKey: `${runId}/register`, modelSource: ref, evaluation: { accuracy: 0.9 }, gate });
    const dest = join(models, 'downloaded-run-model');
    await client.downloadModelVersion(name, r.version!, dest);
    assert.match(readFileSync(join(dest, 'MLmodel'), 'utf8'), /loader_module: mlflow\.onnx/);
    assert.equal(sha256(readFileSync(join(dest, 'model.onnx'))), ref.modelSha256);
  });

  it('when the model dir lacks labels.json, then logModel refuses before uploading anything', async () => {
    const { experimentId, runId } = await newRun();
    await assert.rejects(logModel({ client, runId, experimentId, modelDir: join(models, 'no-labels'), name: 'x' }), /lacks labels\.json/);
    assert.equal((await client.searchLoggedModels({ experimentIds: [experimentId] })).length, 0);
  });
});

describe('registerModel gate', () => {
  it('when accuracy is below the floor, then it is refused, tagged on the run, and nothing is registered', async () => {
    const { experimentId, runId } = await newRun();
    const name = unique('fer');
    const src = await logModel({ client, runId, experimentId, modelDir: join(models, 'strips'), name: 'm' });
    const r = await registerModel({ client, name, runId, runKey: `${runId}/register`, modelSource: src, evaluation: { accuracy: 0.3 }, gate });
    assert.equal(r.decision, 'refused');
    assert.match(r.reason, /below the floor/);
    const tags = fromKeyValues((await client.getRun(runId)).data.tags);
    assert.equal(tags['ferops.gate'], 'refused');
    assert.match(tags['ferops.gate_reason'], /below the floor/);
    assert.equal(await client.getRegisteredModel(name), null);
  });

  it('when the candidate is worse than the champion beyond the tolerance, then it is refused', async () => {
    const { experimentId, runId } = await newRun();
    const src = await logModel({ client, runId, experimentId, modelDir: join(models, 'strips'), name: 'm' });
    const r = await registerModel({
      client, name: unique('fer'), runId, runKey: `${runId}/register`, modelSource: src,
      evaluation: { accuracy: 0.7 }, champion: { version: '1', accuracy: 0.75 }, gate,
    });
    assert.equal(r.decision, 'refused');
    assert.ok(Math.abs((r.numbers.dropVsChampion ?? 0) - 0.05) < 1e-9);
  });

  it('when the candidate passes and the activity is retried, then exactly one READY version carries challenger', async () => {
    const { experimentId, runId } = await newRun();
    const name = unique('fer');
    const src = await logModel({ client, runId, experimentId, modelDir: join(models, 'strips'), name: 'm' });
    const input = {
      client, name, runId, runKey: `${runId}/register`, modelSource: src, evaluation: { accuracy: 0.74 },
      champion: { version: '1', accuracy: 0.75 }, gate, datasetHash: 'd1', workflowId: 'wf-1',
    };
    const a = await registerModel(input);
    const b = await registerModel(input);
    assert.equal(a.decision, 'registered');
    assert.equal(b.version, a.version);
    const versions = await client.searchModelVersions(`name = '${name}'`);
    assert.equal(versions.length, 1);
    const tags = fromKeyValues(versions[0].tags);
    assert.equal(tags['ferops.run_key'], `${runId}/register`);
    assert.equal(tags['ferops.dataset_hash'], 'd1');
    assert.equal(tags['ferops.workflow_id'], 'wf-1');
    assert.equal(tags['ferops.model_sha256'], src.modelSha256);
    assert.equal(versions[0].status, 'READY');
    assert.equal((await client.getModelVersionByAlias(name, CHALLENGER))?.version, a.version);
    assert.equal(fromKeyValues((await client.getRun(runId)).data.tags)['ferops.gate'], 'passed');
  });
});

describe('promotion, rollback and the Python client', () => {
  it('when the champion was deleted from the registry and `previous` comes back, then it is champion alone, not previous too', async () => {
    const name = unique('fer');
    const versions: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { experimentId, runId } = await newRun();
      const src = await logModel({ client, runId, experimentId, modelDir: join(models, 'strips'), name: 'm' });
      versions.push((await registerModel({ client, name, runId, runKey: `${runId}/register`, modelSource: src, evaluation: { accuracy: 0.8 }, gate })).version!);
    }
    const [v1, v2] = versions;
    await promoteChampion({ client, name, version: v1, reason: 'first' });
    await promoteChampion({ client, name, version: v2, reason: 'canary passed' });
    await client.http.json('DELETE', '/model-versions/delete', { body: { name, version: v2 } });
    assert.deepEqual(await promoteChampion({ client, name, version: v1, reason: 'deployed at once' }), { champion: v1, previous: undefined });
    assert.equal((await client.getModelVersionByAlias(name, CHAMPION))?.version, v1);
    assert.equal(await client.getModelVersionByAlias(name, PREVIOUS), null);
  });


  it('when two versions are promoted in turn, then champion/previous move and Python loads the champion', async () => {
    const name = unique('fer');
    const versions: string[] = [];
    for (const dir of ['constant-sad', 'strips']) {
      const { experimentId, runId } = await newRun();
      const src = await logModel({ client, runId, experimentId, modelDir: join(models, dir), name: 'm' });
      const r = await registerModel({ client, name, runId, runKey: `${runId}/register`, modelSource: src, evaluation: { accuracy: 0.8 }, gate });
      versions.push(r.version!);
    }
    const [v1, v2] = versions;
    assert.deepEqual(await promoteChampion({ client, name, version: v1, reason: 'first' }), { champion: v1, previous: undefined });
    assert.deepEqual(await promoteChampion({ client, name, version: v2, reason: 'canary passed' }), { champion: v2, previous: v1 });
    // A retried promotion must not point `previous` at the champion itself.
    assert.deepEqual(await promoteChampion({ client, name, version: v2, reason: 'canary passed' }), { champion: v2, previous: v1 });
    assert.equal((await client.getModelVersionByAlias(name, CHAMPION))?.version, v2);
    assert.equal((await client.getModelVersionByAlias(name, PREVIOUS))?.version, v1);
    assert.equal(await client.getModelVersionByAlias(name, CHALLENGER), null);
    assert.equal(fromKeyValues((await client.getModelVersion(name, v2)).tags)['ferops.promotion_reason'], 'canary passed');

    await tagRollback({ client, name, version: v1, reason: 'error rate 9%' });
    const rb = fromKeyValues((await client.getModelVersion(name, v1)).tags);
    assert.equal(rb['ferops.rollback'], 'true');
    assert.equal(rb['ferops.rollback_reason'], 'error rate 9%');
    // A reason longer than MLflow takes (an operator's abort text, a long failure) is cut, not refused: the
    // rollout's rollback retries this call until it succeeds.
    await tagRollback({ client, name, version: v1, reason: `x${'y'.repeat(200_000)}` });
    const long = fromKeyValues((await client.getModelVersion(name, v1)).tags)['ferops.rollback_reason'];
    assert.equal(long.length, 5000);
    assert.ok(long.startsWith('xyy') && long.endsWith('…'));

    // Faces whose brightest vertical strip differs, so the strips model gives several classes.
    const faces = Array.from({ length: 7 }, (_, k) => {
      const f = new Uint8Array(48 * 48).fill(20);
      const x0 = Math.floor((k * 48) / 7);
      for (let y = 0; y < 48; y++) for (let x = x0; x < x0 + 6; x++) f[y * 48 + x] = 240;
      return f;
    });
    const pixels = facesToTensorData(faces);
    const session = await ort.InferenceSession.create(join(models, 'strips', 'model.onnx'));
    const out = await session.run({ pixels: new ort.Tensor('float32', pixels, [faces.length, 1, 48, 48]) });
    const logits = out.logits.data as Float32Array;
    const nodeTop = faces.map((_, b) => argmax(logits.subarray(b * 7, b * 7 + 7)));
    assert.ok(new Set(nodeTop).size >= 3, 'the inputs must exercise several classes');

    const file = join(models, 'pixels.f32');
    writeFileSync(file, Buffer.from(pixels.buffer));
    const py = JSON.parse(
      execFileSync(pythonBin(), [join(REPO_ROOT, 'test', 'helpers', 'mlflow_pyfunc_predict.py'), `models:/${name}@champion`, file, String(faces.length)], {
        env: { ...process.env, MLFLOW_TRACKING_URI: fx.server.url },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }).trim().split('\n').pop()!,
    ) as { logits: number[][]; top: number[] };
    assert.deepEqual(py.top, nodeTop);
    py.logits.flat().forEach((v, i) => assert.ok(Math.abs(v - logits[i]) < 1e-4, `logit ${i}: python ${v} vs node ${logits[i]}`));
  });

  it('when promoting a version that does not exist, then it fails and the aliases stay', async () => {
    const name = unique('fer');
    await client.createRegisteredModel(name);
    await assert.rejects(promoteChampion({ client, name, version: '42', reason: 'x' }), /RESOURCE_DOES_NOT_EXIST|404/);
    assert.equal(await client.getModelVersionByAlias(name, CHAMPION), null);
  });
});

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
