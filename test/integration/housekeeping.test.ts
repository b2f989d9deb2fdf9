import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { createHousekeepingActivities } from '../../activities/housekeeping';
import { ensurePipelineRun, type PipelineRunContext } from '../../activities/pipeline/pipeline-run';
import { FAILURE_TAG, OUTCOME_TAG } from '../../activities/pipeline/run-status';
import { readDesiredState } from '../../lib/inference-admin/desired-state';
import { withDefaults } from '../../lib/pipeline-input';
import { deploymentLeaseId } from '../../lib/temporal-constants';
import { startLoad } from '../../services/cli/load-generator';
import { canaryRollout } from '../../workflows/canary-rollout';
import { abortSignal, rolloutStateQuery } from '../../workflows/definitions';
import { housekeeping, ORPHANED_CANARY_REASON, type HousekeepingResult } from '../../workflows/housekeeping';
import { trainingPipeline } from '../../workflows/training-pipeline';
import { startRolloutLab, type RolloutLab } from '../helpers/rollout-lab';
import type { TemporalTestEnv } from '../helpers/temporal-env';
import type { MlflowFixture } from './mlflow-fixtures';

// The housekeeping workflow with its real activities: a real Temporal dev server (whose workflows are terminated,
// time out, or are never started), a real MLflow server and registry, and a real inference replica that follows
// the desired state while a load generator sends it real faces.
const NAME = 'housekeeping-test';
const ROLLOUT = withDefaults({ rollout: { shadowSeconds: 2, windowSeconds: 600, steps: [25, 100], minRequests: 5, maxExtensions: 1 } }).rollout;

let lab: RolloutLab;
let mlflow: MlflowFixture;
let temporal: TemporalTestEnv;
let run: PipelineRunContext;

const houseKeep = (): Promise<HousekeepingResult> => temporal.client.workflow.execute(housekeeping, { taskQueue: lab.taskQueue, workflowId: `housekeeping-${randomUUID()}` });

async function startRollout(): Promise<{ handle: WorkflowHandle<typeof canaryRollout>; version: string }> {
  const version = await lab.register('strips');
  const handle = await temporal.client.workflow.start(canaryRollout, {
    taskQueue: lab.taskQueue, workflowId: `rollout-${randomUUID()}`, args: [{ modelName: NAME, version, rollout: { ...ROLLOUT, approval: 'none' } }],
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
  lab = await startRolloutLab(NAME, (m) => {
    run = { mlflow: m.client, experimentName: `pipelines-${randomUUID()}`, temporalUiUrl: 'http://localhost:8233/namespaces/default' };
    return createHousekeepingActivities(run);
  });
  ({ mlflow, temporal } = lab);
}, { timeout: 300_000 });

after(() => lab?.stop());

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
    const load = startLoad(lab.service.url, lab.datasetUri, 25);
    try {
      const { handle, version } = await startRollout();
      await handle.terminate('operator: stuck');
      await sleep(1_000);
      // What a terminated rollout left before housekeeping: an unanalysed candidate serving a quarter of the traffic.
      const left = await readDesiredState(mlflow.client, NAME);
      assert.deepEqual([left.canary?.version, left.canaryWeight], [version, 25]);

      assert.equal((await houseKeep()).canaryRolledBack, version);

      const settled = await readDesiredState(mlflow.client, NAME);
      assert.deepEqual([settled.stable?.version, settled.canary, settled.canaryWeight], [lab.stable, null, 0]);
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
    const load = startLoad(lab.service.url, lab.datasetUri, 25);
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
