import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { LABELS } from '../../lib/labels';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { discovery } from '../../lib/inference-admin/discovery';
import { Fleet } from '../../lib/inference-admin/fleet';
import { createMonitorActivities } from '../../activities/monitor';
import { MONITORING_EXPERIMENT } from '../../activities/monitor/log-report';
import { writeNpyUint8 } from '../../lib/dataset';
import type { RunningServer } from '../../services/inference/server';
import { ADMIN_TOKEN, postImage, startTestServer, tempDir } from '../../services/inference/testing/harness';
import type { DriftMonitorResult, driftMonitor } from '../../workflows/drift-monitor';
import { fakeActivities, healthyStats, type FakeWorld } from '../helpers/fake-activities';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';
import { startMlflowFixture, unique, type MlflowFixture } from './mlflow-fixtures';

// Injected drift end to end: a champion registered in a real MLflow, trained (here: written) on bright strip
// faces; the real inference service answers traffic; the real monitor activities compare the two. Dark traffic
// must be detected, normal traffic must not, and the driftMonitor workflow must start one retraining.

/** The `strips` fixture model answers class k for a crop whose only lit strip is strip k, at any level > 0. */
function stripPixels(k: number, level: number): Uint8Array {
  const edges = [0, 6, 13, 20, 27, 34, 41, 48];
  const px = new Uint8Array(48 * 48);
  for (let y = 0; y < 48; y++) for (let x = edges[k]; x < edges[k + 1]; x++) px[y * 48 + x] = level;
  return px;
}

/** Lighting of the champion's training faces; training-like traffic uses the same. */
const trainLevel = (i: number) => 200 + (i % 55);

/** A train split of 10 strip faces per class, lit at 200..254, as the champion's training data. */
function writeDataset(root: string, datasetId: string): string {
  const dir = join(root, datasetId);
  mkdirSync(dir, { recursive: true });
  const n = 70;
  const images = new Uint8Array(n * 48 * 48);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 7;
    images.set(stripPixels(i % 7, trainLevel(i)), i * 48 * 48);
  }
  writeNpyUint8(join(dir, 'train_images.npy'), images, [n, 48, 48]);
  writeNpyUint8(join(dir, 'train_labels.npy'), labels, [n]);
  const manifest = { datasetId, formatVersion: 1, source: { kind: 'synthetic' }, createdAt: new Date().toISOString(), splits: { train: n, val: 0, test: 0 }, classCounts: { train: new Array(7).fill(10), val: [], test: [] }, pixelStats: { mean: 0, std: 0 }, rejected: { total: 0, byReason: {}, rows: [] }, labels: [] };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

async function send(url: string, count: number, level: (i: number) => number, cls: (i: number) => number = (i) => i % 7): Promise<void> {
  for (let i = 0; i < count; i++) {
    const png = await sharp(Buffer.from(stripPixels(cls(i), level(i))), { raw: { width: 48, height: 48, channels: 1 } }).png().toBuffer();
    assert.equal((await postImage(url, png, { query: 'detect=false' })).status, 200);
  }
}

describe('monitoring: injected drift on the real service', { timeout: 150_000 }, () => {
  let mlflow: MlflowFixture;
  let temporal: TemporalTestEnv;
  let modelName: string;
  let datasetUri: string;
  const cacheDir = tempDir('ferops-monitoring-baselines-');
  before(async () => {
    [mlflow, temporal] = await Promise.all([startMlflowFixture(), startTemporalTestEnv()]);
    modelName = unique('fer');
    datasetUri = writeDataset(tempDir('ferops-monitoring-data-'), 'ds0123456789abcd');
    const exp = await mlflow.client.getOrCreateExperiment(unique('train'));
    const run = await mlflow.client.createRun({ experimentId: exp, tags: { 'ferops.dataset_uri': datasetUri } });
    await mlflow.client.createRegisteredModel(modelName);
    const mv = await mlflow.client.createModelVersion({ name: modelName, source: `mlflow-artifacts:/${exp}/${run.info.run_id}/artifacts/model`, runId: run.info.run_id });
    await mlflow.client.setAlias(modelName, 'champion', mv.version);
  }, { timeout: 120_000 });
  after(async () => {
    await temporal?.teardown();
    await mlflow?.stop();
  });

  const activitiesFor = (server: RunningServer, name = modelName) =>
    createMonitorActivities({ mlflow: mlflow.client, modelName: name, fleet: new Fleet(discovery(server.url), ADMIN_TOKEN), baselineCacheDir: cacheDir });
  const input = { windowSeconds: 300, psiThreshold: 0.25, minSamples: 35 };

  it('when traffic looks like the training data, then no feature drifts and the report is logged to MLflow', async () => {
    const server = await startTestServer();
    try {
      await send(server.url, 70, trainLevel);
      const a = activitiesFor(server);
      const report = await a.checkDrift(input);
      assert.equal(report.status, 'checked');
      if (report.status !== 'checked') return;
      assert.equal(report.samples, 70);
      assert.equal(report.championVersion, '1');
      assert.equal(report.drifted, false, JSON.stringify(report.psi));
      assert.equal(report.classBaseline, 'training_labels', 'this champion run logged no confusion matrix');
      assert.ok(report.maxPsi! < 0.25, JSON.stringify(report.psi));
      assert.ok(existsSync(join(cacheDir, 'ds0123456789abcd.json')), 'baseline cached per dataset id');

      const at = Date.now();
      const runId = await a.logDriftReport({ report, at, workflowId: 'wf-1' });
      await a.logDriftReport({ report, at, workflowId: 'wf-1' }); // a retried activity adds no second point
      await a.logDriftReport({ report, at: at + 60_000, workflowId: 'wf-2' });
      const history = await mlflow.client.getMetricHistory(runId!, 'drift.psi_max');
      assert.deepEqual(history.map((m) => m.step).sort(), [Math.floor(at / 1000), Math.floor(at / 1000) + 60].sort());
      const exp = await mlflow.client.getExperimentByName(MONITORING_EXPERIMENT);
      assert.ok(exp);

      // A new champion's series becomes the one running run, so the MLflow UI does not list past champions as
      // running; a champion back after a rollback runs again.
      const status = async (id: string | null) => (await mlflow.client.getRun(id!)).info.status;
      const next = await a.logDriftReport({ report: { ...report, championVersion: '2' }, at: at + 120_000, workflowId: 'wf-3' });
      assert.deepEqual([await status(runId), await status(next)], ['FINISHED', 'RUNNING']);
      await a.logDriftReport({ report, at: at + 180_000, workflowId: 'wf-4' });
      assert.deepEqual([await status(runId), await status(next)], ['RUNNING', 'FINISHED']);
    } finally {
      await server.stop();
    }
  });

  it('when the champion logged its test predictions, then live classes are compared with those, not with the labels', async () => {
    // A champion that answers "happy" for most test faces: answering "happy" live is its bias, not drift.
    const name = unique('biased');
    const exp = await mlflow.client.getOrCreateExperiment(unique('train'));
    const run = await mlflow.client.createRun({ experimentId: exp, tags: { 'ferops.dataset_uri': datasetUri } });
    const matrix = LABELS.map((_, t) => LABELS.map((__, p) => (p === 3 ? 8 : p === t ? 2 : 0)));
    const confusion = join(tempDir('ferops-monitoring-confusion-'), 'confusion.json');
    writeFileSync(confusion, JSON.stringify({ labels: LABELS, rows: 'true', columns: 'predicted', matrix }));
    await mlflow.client.uploadFile(run.info.artifact_uri, confusion, 'evaluation/confusion.json');
    await mlflow.client.createRegisteredModel(name);
    const mv = await mlflow.client.createModelVersion({ name, source: `mlflow-artifacts:/${exp}/${run.info.run_id}/artifacts/model`, runId: run.info.run_id });
    await mlflow.client.setAlias(name, 'champion', mv.version);

    const happy = await startTestServer();
    const sad = await startTestServer();
    try {
      // Predictions as on its test split: mostly happy, a few of each other class.
      await send(happy.url, 70, trainLevel, (i) => (i % 10 < 8 ? 3 : [0, 1, 2, 4, 5, 6][i % 6]));
      const asTested = await activitiesFor(happy, name).checkDrift(input);
      assert.equal(asTested.status === 'checked' && asTested.classBaseline, 'champion_predictions');
      assert.ok(asTested.status === 'checked' && asTested.psi.classes! < 0.25, JSON.stringify(asTested));
      // Traffic shifted to one class the champion rarely answered: the class distribution drifts.
      await send(sad.url, 70, trainLevel, () => 4);
      const shifted = await activitiesFor(sad, name).checkDrift(input);
      assert.ok(shifted.status === 'checked' && shifted.drifted && shifted.driftedFeatures.includes('classes'), JSON.stringify(shifted));
    } finally {
      await happy.stop();
      await sad.stop();
    }
  });

  it('when too few faces were served, then large drift is reported but not declared', async () => {
    const server = await startTestServer();
    try {
      await send(server.url, 5, () => 20);
      const report = await activitiesFor(server).checkDrift(input);
      assert.equal(report.status === 'checked' && report.enoughSamples, false);
      assert.equal(report.status === 'checked' && report.drifted, false);
    } finally {
      await server.stop();
    }
  });

  it('when the model has no champion, then the report says so and nothing is logged', async () => {
    const server = await startTestServer();
    try {
      const a = activitiesFor(server, unique('nochamp'));
      const report = await a.checkDrift(input);
      assert.equal(report.status, 'no_champion');
      assert.equal(await a.logDriftReport({ report, at: Date.now(), workflowId: 'wf-3' }), null);
    } finally {
      await server.stop();
    }
  });

  it('when traffic turns dark, then brightness and contrast drift and the driftMonitor starts one retraining', async () => {
    const server = await startTestServer();
    try {
      await send(server.url, 35, () => 25);
      const w: FakeWorld = { calls: [], deployment: { canaryWeight: 0, shadow: false }, stats: healthyStats, accuracy: 0.1 };
      const taskQueue = `tq-${randomUUID()}`;
      const worker = await temporal.createWorker({ taskQueue, activities: { ...fakeActivities(w), ...activitiesFor(server) } });
      const results = await worker.runUntil(async () => {
        const run = () => temporal.client.workflow.execute<typeof driftMonitor>('driftMonitor', { taskQueue, workflowId: `mon-${randomUUID()}`, args: [{ ...input, retrain: { trainingTaskQueue: taskQueue } }] });
        const out: DriftMonitorResult[] = [await run(), await run()];
        await temporal.client.workflow.getHandle(out[0].retraining!.workflowId).result();
        return out;
      });
      const report = results[0].report;
      assert.equal(report.status, 'checked');
      if (report.status !== 'checked') return;
      assert.equal(report.drifted, true);
      assert.deepEqual([...report.driftedFeatures].sort(), ['brightness', 'contrast']);
      assert.ok(report.psi.classes! < 0.25, 'the strips model still answers the same classes');
      assert.deepEqual(results.map((r) => r.retraining), [
        { workflowId: `retrain-drift-${modelName}-v1`, status: 'started' },
        { workflowId: `retrain-drift-${modelName}-v1`, status: 'already_started' },
      ]);
      assert.equal(w.calls.filter((c) => c === 'ingest').length, 1);
    } finally {
      await server.stop();
    }
  });
});
