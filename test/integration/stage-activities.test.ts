import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type Activities } from '../../activities';
import { markPipelineRun } from '../../activities/pipeline/run-status';
import { CHAMPION, MODEL_SHA256_TAG } from '../../activities/register';
import type { EvaluateInput, EvaluateOutput, IngestInput, IngestOutput } from '../../activities/types';
import { loadConfig } from '../../lib/config';
import { readSplit } from '../../lib/dataset';
import { discovery } from '../../lib/inference-admin/discovery';
import { Fleet } from '../../lib/inference-admin/fleet';
import { LABELS } from '../../lib/labels';
import { model } from '../../services/inference/testing/harness';
import { registerFixture, startMlflowFixture, unique, type MlflowFixture } from './mlflow-fixtures';

// The stage activities as the worker wires them, against a real MLflow server passed in as a dependency.
const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const env = () => new MockActivityEnvironment({}, { logger: quiet });

let fx: MlflowFixture;
let dataDir: string;
let activities: Activities;
const modelName = unique('stage-activities');

before(async () => {
  fx = await startMlflowFixture();
  dataDir = mkdtempSync(join(tmpdir(), 'ferops-stage-activities-'));
  const config = loadConfig({
    FEROPS_DATA_DIR: dataDir,
    // Unreachable on purpose: every MLflow call must go to the client passed in, not one built from the config.
    FEROPS_MLFLOW_URL: 'http://127.0.0.1:9',
    FEROPS_MLFLOW_EXPERIMENT: unique('stage-activities'),
    FEROPS_TEMPORAL_UI_URL: 'https://temporal.example/namespaces/ml/',
  });
  activities = createActivities({ config, mlflow: fx.client, fleet: new Fleet(discovery('http://127.0.0.1:9'), 'x'.repeat(16)) });
});
after(async () => {
  await fx?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('stage activities wired by createActivities(deps)', () => {
  let ingested: IngestOutput;

  it('when ingest runs, then the pipeline run lives on the given MLflow and links to the configured Temporal UI', async () => {
    const input: IngestInput = { workflowId: 'wf/1', modelName, source: { kind: 'synthetic', size: 210, seed: 3 } };
    ingested = await env().run(activities.ingest, input);
    const run = await fx.client.getRun(ingested.mlflowRunId);
    const tag = (key: string) => run.data.tags?.find((t) => t.key === key)?.value;
    assert.equal(tag('ferops.temporal_ui'), 'https://temporal.example/namespaces/ml/workflows/wf%2F1');
    assert.equal(ingested.splits.train + ingested.splits.val + ingested.splits.test, 210);
  });

  it('when a champion is registered, then evaluate fetches it checksum-verified and measures it on the same split', async () => {
    const version = await registerFixture(fx.client, modelName, 'stage-activities-fixtures', 'strips');
    await fx.client.setAlias(modelName, CHAMPION, version);
    const input: EvaluateInput = { workflowId: 'wf/1', mlflowRunId: ingested.mlflowRunId, modelName, modelDir: model('constant-happy'), datasetUri: ingested.uri };
    const out = (await env().run(activities.evaluate, input)) as EvaluateOutput;
    assert.equal(out.champion?.version, version);
    assert.equal(out.count, ingested.splits.test);
    assert.equal(out.champion?.count, out.count);
    // The candidate always answers "happy": its accuracy is the happy share of the ingested test split, on any CPU.
    const { labels } = readSplit(ingested.uri, 'test');
    const happyShare = labels.filter((l) => LABELS[l] === 'happy').length / labels.length;
    assert.ok(Math.abs(out.accuracy - happyShare) < 1e-9, `accuracy ${out.accuracy}, happy share ${happyShare}`);
    const logged = (await fx.client.getRun(ingested.mlflowRunId)).data.metrics?.find((m) => m.key === 'test_accuracy');
    assert.equal(logged?.value, out.accuracy, 'logged on the pipeline run');
  });

  it('when evaluate runs, then its shared model cache drops versions no evaluation used for a day, and marks its champion used', async () => {
    const cache = join(dataDir, 'evaluate-cache', modelName);
    const champion = (await fx.client.getModelVersionByAlias(modelName, CHAMPION))!.version;
    const twoDaysAgo = (Date.now() - 48 * 3600_000) / 1000;
    for (const version of ['97', '98']) mkdirSync(join(cache, version), { recursive: true });
    for (const dir of ['98', champion]) utimesSync(join(cache, dir), twoDaysAgo, twoDaysAgo);
    const input: EvaluateInput = { workflowId: 'wf/1', mlflowRunId: ingested.mlflowRunId, modelName, modelDir: model('constant-happy'), datasetUri: ingested.uri };
    await env().run(activities.evaluate, input);
    // 97: used by another worker within the day; 98: by nobody for two days.
    assert.deepEqual(readdirSync(cache).sort(), [champion, '97'].sort());
    assert.ok(Date.now() - statSync(join(cache, champion)).mtimeMs < 600_000, 'the champion read now is marked used for the other workers');
  });

  it("when the champion's model.onnx does not match its registry checksum, then evaluate refuses it", async () => {
    const version = await registerFixture(fx.client, modelName, 'stage-activities-fixtures', 'strips');
    await fx.client.setModelVersionTag(modelName, version, MODEL_SHA256_TAG, '0'.repeat(64));
    await fx.client.setAlias(modelName, CHAMPION, version);
    const input: EvaluateInput = { workflowId: 'wf/2', mlflowRunId: ingested.mlflowRunId, modelName, modelDir: model('constant-happy'), datasetUri: ingested.uri };
    await assert.rejects(env().run(activities.evaluate, input), (err: Error) => {
      assert.equal(err.name, 'ModelArtifactError');
      assert.match(err.message, /does not match the registry's 0{64}/);
      return true;
    });
  });

  it('when a pipeline fails or is cancelled, then closePipelineRun ends its run FAILED or KILLED with why, and a reset pipeline goes on in it', async () => {
    const runOf = async (workflowId: string) => {
      const input: IngestInput = { workflowId, modelName, source: { kind: 'synthetic', size: 210, seed: 3 } };
      const out: IngestOutput = await env().run(activities.ingest, input);
      return out.mlflowRunId;
    };
    const read = async (runId: string) => {
      const { info, data } = await fx.client.getRun(runId);
      const tag = (key: string) => data.tags?.find((t) => t.key === key)?.value;
      return { status: info.status, outcome: tag('ferops.outcome'), failure: tag('ferops.failure') };
    };
    const close = (workflowId: string, outcome: 'failed' | 'cancelled', reason: string) => env().run(activities.closePipelineRun, { workflowId, outcome, reason });

    const failed = await runOf('wf/failed');
    const why = 'trainer exited with code 1: CUDA out of memory';
    assert.deepEqual(await close('wf/failed', 'failed', why), { closed: true });
    assert.deepEqual(await read(failed), { status: 'FAILED', outcome: 'failed', failure: why });
    assert.ok((await fx.client.getRun(failed)).info.end_time, 'it has an end time');
    // A retried close (its first answer lost) records the same.
    await close('wf/failed', 'failed', why);
    assert.deepEqual(await read(failed), { status: 'FAILED', outcome: 'failed', failure: why });
    // Reset past ingest (to the failed training, say): the next training attempt sets the run running again, here one
    // whose config the trainer refuses.
    const retrain = { workflowId: 'wf/failed', mlflowRunId: failed, datasetUri: dataDir, trainer: { train: { epochs: 0 } } };
    await assert.rejects(env().run(activities.train, retrain), /epochs must be >= 1/);
    assert.deepEqual(await read(failed), { status: 'RUNNING', outcome: undefined, failure: undefined });

    const cancelled = await runOf('wf/cancelled');
    await close('wf/cancelled', 'cancelled', 'the pipeline was cancelled');
    assert.deepEqual(await read(cancelled), { status: 'KILLED', outcome: 'cancelled', failure: 'the pipeline was cancelled' });
    // Reset in the Temporal UI, the pipeline runs again under its id: ingest finds its run and it is running again, and
    // register (after a reset past ingest too) ends it FINISHED, with no trace of the failure in its tags.
    assert.equal(await runOf('wf/cancelled'), cancelled);
    assert.deepEqual(await read(cancelled), { status: 'RUNNING', outcome: undefined, failure: undefined });
    await close('wf/cancelled', 'failed', why);
    await markPipelineRun(fx.client, await fx.client.getRun(cancelled), 'FINISHED');
    assert.deepEqual(await read(cancelled), { status: 'FINISHED', outcome: undefined, failure: undefined });

    // The run of a pipeline that got past register ended FINISHED there; a failure in its rollout leaves it so.
    assert.deepEqual(await close('wf/cancelled', 'failed', 'rollout'), { closed: false });
    assert.equal((await read(cancelled)).status, 'FINISHED');
    // A pipeline that failed before ingest made a run has none to close.
    assert.deepEqual(await close('wf/never-ingested', 'failed', 'bad_input'), { closed: false });
  });
});
