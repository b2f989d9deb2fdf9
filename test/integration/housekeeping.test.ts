import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { createDeployActivities } from '../../activities/deploy';
import { createHousekeepingActivities } from '../../activities/housekeeping';
import { ingestDataset } from '../../activities/ingest';
import { ensurePipelineRun, type PipelineRunContext } from '../../activities/pipeline/pipeline-run';
import { FAILURE_TAG, OUTCOME_TAG } from '../../activities/pipeline/run-status';
import { promoteChampion } from '../../activities/register';
import { readDesiredState } from '../../lib/inference-admin/desired-state';
import { withDefaults } from '../../lib/pipeline-input';
import { deploymentLeaseId } from '../../lib/temporal-constants';
import { startLoad } from '../../services/cli/load-generator';
import type { RunningServer } from '../../services/inference/server';
import { canaryRollout } from '../../workflows/canary-rollout';
import { abortSignal, rolloutStateQuery } from '../../workflows/definitions';
import { housekeeping, ORPHANED_CANARY_REASON, type HousekeepingResult } from '../../workflows/housekeeping';
import { trainingPipeline } from '../../workflows/training-pipeline';
import { desireStable, fleetOf, startFollowingService } from '../helpers/following-service';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';
import { registerFixture, startMlflowFixture, type MlflowFixture } from './mlflow-fixtures';

// The housekeeping workflow with its real activities: a real Temporal dev server (whose workflows are terminated,
// time out, or are never started), a real MLflow server and registry, and a real inference replica that follows
// the desired state while a load generator sends it real faces.
const NAME = 'housekeeping-test';
const ROLLOUT = withDefaults({ rollout: { shadowSeconds: 2, windowSeconds: 600, steps: [25, 100], minRequests: 5, maxExtensions: 1 } }).rollout;

let mlflow: MlflowFixture;
let temporal: TemporalTestEnv;
let service: RunningServer;
let worker: Worker;
let workerDone: Promise<void>;
let run: PipelineRunContext;
let datasetUri: string;
let dataRoot: string;
let stable: string;
const taskQueue = `housekeeping-${randomUUID()}`;

const houseKeep = (): Promise<HousekeepingResult> => temporal.client.workflow.execute(housekeeping, { taskQueue, workflowId: `housekeeping-${randomUUID()}` });

async function startRollout(): Promise<{ handle: WorkflowHandle<typeof canaryRollout>; version: string }> {
  const version = await registerFixture(mlflow.client, NAME, 'housekeeping-test', 'strips');
  const handle = await temporal.client.workflow.start(canaryRollout, {
    taskQueue, workflowId: `rollout-${randomUUID()}`, args: [{ modelName: NAME, version, rollout: { ...ROLLOUT, approval: 'none' } }],
  });
  for (let i = 0; i < 600; i++) {
    const state = await handle.query(rolloutStateQuery).catch(() => undefined);
    if (state?.phase === 'traffic' && state.canaryWeight === 25 && (await readDesiredState(mlflow.client, NAME)).canaryWeight === 25) return { handle, version };
    if (state?.phase === 'rolled_back') throw new Error(`the rollout ended early: ${JSON.stringify(state.decisions)}`);
    await sleep(100);
  }
  throw new Error('the rollout never reached 25 % of the traffic');
}

const runOf = async (workflowId: string) => {
  const experiment = await mlflow.client.getExperimentByName(run.experimentName);
  const [found] = await mlflow.client.searchRuns({ experimentIds: [experiment!.experiment_id], filter: `tags.\`ferops.workflow_id\` = '${workflowId}'` });
  const tag = (key: string) => found.data.tags?.find((t) => t.key === key)?.value;
  return { status: found.info.status, outcome: tag(OUTCOME_TAG), failure: tag(FAILURE_TAG), runId: found.info.run_id };
};

before(async () => {
  [mlflow, temporal] = await Promise.all([startMlflowFixture(), startTemporalTestEnv()]);
  run = { mlflow: mlflow.client, experimentName: `pipelines-${randomUUID()}`, temporalUiUrl: 'http://localhost:8233/namespaces/default' };
  dataRoot = mkdtempSync(join(tmpdir(), 'ferops-housekeeping-'));
  datasetUri = (await ingestDataset({ kind: 'synthetic', size: 400, seed: 5 }, { dataRoot })).uri;
  stable = await registerFixture(mlflow.client, NAME, 'housekeeping-test', 'strips');
  await desireStable(mlflow.server.url, NAME, stable);
  service = await startFollowingService(mlflow.server.url, NAME);
  await promoteChampion({ client: mlflow.client, name: NAME, version: stable, reason: 'baseline' });
  const activities = { ...createHousekeepingActivities(run), ...createDeployActivities(fleetOf(service.url), mlflow.client, NAME) };
  worker = await temporal.createWorker({ taskQueue, activities });
  workerDone = worker.run();
}, { timeout: 300_000 });

after(async () => {
  worker?.shutdown();
  await workerDone;
  await service?.stop();
  await temporal?.teardown();
  await mlflow?.stop();
  rmSync(dataRoot, { recursive: true, force: true });
});

describe('housekeeping against real Temporal, MLflow and inference', { timeout: 600_000 }, () => {
  it('when pipelines were terminated, timed out or are gone from Temporal, then their MLflow runs end with why; a running one is left', async () => {
    // Pipelines on a queue no worker serves: they stay running until ended from outside, as a stuck one would.
    const idle = `idle-${randomUUID()}`;
    const ids = { terminated: `train-t-${randomUUID()}`, timedOut: `train-o-${randomUUID()}`, running: `train-r-${randomUUID()}`, lost: `train-l-${randomUUID()}` };
    const terminated = await temporal.client.workflow.start(trainingPipeline, { taskQueue: idle, workflowId: ids.terminated, args: [{}] });
    const timedOut = await temporal.client.workflow.start(trainingPipeline, { taskQueue: idle, workflowId: ids.timedOut, args: [{}], workflowExecutionTimeout: '1s' });
    const running = await temporal.client.workflow.start(trainingPipeline, { taskQueue: idle, workflowId: ids.running, args: [{}] });
    for (const id of Object.values(ids)) await ensurePipelineRun(run, id);
    await terminated.terminate('stuck on a dead GPU host');
    await assert.rejects(timedOut.result());
    // What the MLflow UI showed before housekeeping: every one of them running, for ever.
    for (const id of Object.values(ids)) assert.equal((await runOf(id)).status, 'RUNNING');

    const { closedRuns } = await houseKeep();

    assert.deepEqual(await runOf(ids.terminated), { status: 'KILLED', outcome: 'terminated', failure: 'stuck on a dead GPU host', runId: (await runOf(ids.terminated)).runId });
    const late = await runOf(ids.timedOut);
    assert.equal(late.status, 'FAILED');
    assert.equal(late.outcome, 'timed-out');
    assert.match(late.failure!, /timed out/i);
    const lost = await runOf(ids.lost);
    assert.deepEqual([lost.status, lost.outcome], ['FAILED', 'lost']);
    assert.match(lost.failure!, /no longer in Temporal/);
    assert.deepEqual(await runOf(ids.running).then((r) => [r.status, r.outcome]), ['RUNNING', undefined]);
    assert.deepEqual(closedRuns.map((c) => c.workflowId).sort(), [ids.terminated, ids.timedOut, ids.lost].sort());
    assert.deepEqual((await houseKeep()).closedRuns, [], 'a second run finds nothing left to end');
    await running.terminate('test over');
  });

  it('when a rollout is terminated at 25 % of the traffic, then its canary serves on until housekeeping rolls it back and says why', async () => {
    const load = startLoad(service.url, datasetUri, 25);
    try {
      const { handle, version } = await startRollout();
      await handle.terminate('operator: stuck');
      await sleep(1_000);
      // What a terminated rollout left before housekeeping: a candidate that no one analyses, serving a quarter of the traffic.
      const left = await readDesiredState(mlflow.client, NAME);
      assert.deepEqual([left.canary?.version, left.canaryWeight], [version, 25]);

      assert.equal((await houseKeep()).canaryRolledBack, version);

      const settled = await readDesiredState(mlflow.client, NAME);
      assert.deepEqual([settled.stable?.version, settled.canary, settled.canaryWeight], [stable, null, 0]);
      const mv = await mlflow.client.getModelVersion(NAME, version);
      assert.equal(mv.tags?.find((t) => t.key === 'ferops.rollback_reason')?.value, ORPHANED_CANARY_REASON);
      // The lease housekeeping took is released: the next rollout of the model goes on at once.
      assert.equal((await temporal.client.workflow.getHandle(deploymentLeaseId(NAME)).describe()).status.name, 'COMPLETED');
      assert.equal((await load.stop()).failed, 0);
    } finally {
      await load.stop();
    }
  });

  it('when a rollout is running, even with its lease terminated by an operator, then housekeeping leaves its canary alone', async () => {
    const load = startLoad(service.url, datasetUri, 25);
    try {
      const { handle, version } = await startRollout();
      assert.equal((await houseKeep()).canaryRolledBack, undefined, 'the rollout holds the lease');
      await temporal.client.workflow.getHandle(deploymentLeaseId(NAME)).terminate('operator breaks the lock');
      assert.equal((await houseKeep()).canaryRolledBack, undefined, 'the rollout still runs');
      assert.equal((await readDesiredState(mlflow.client, NAME)).canary?.version, version);
      await handle.signal(abortSignal, 'test over');
      assert.equal((await handle.result()).outcome, 'rolled_back');
    } finally {
      await load.stop();
    }
  });
});
