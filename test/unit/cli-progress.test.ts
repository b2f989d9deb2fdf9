import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { msNumberToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import type { WorkflowHandle } from '@temporalio/client';
import { followRollout } from '../../services/cli/follow';
import { readProgress, stalledActivity, stalledWorkflowTask, WORKFLOW_TASK_SCHEDULED } from '../../services/cli/pipeline-runner';
import type { canaryRollout, RolloutDecision, RolloutResult, RolloutState } from '../../workflows/canary-rollout';
import { renderProgress } from '../../services/cli/progress-line';

const NOW = 1_800_000_000_000;
// The server's own enum, so that a wrong constant in the CLI fails here.
const { PENDING_ACTIVITY_STATE_SCHEDULED: SCHEDULED, PENDING_ACTIVITY_STATE_STARTED: STARTED } = temporal.api.enums.v1.PendingActivityState;

describe('a stalled pipeline in the live progress line', () => {
  it('when an activity retries after a failure, then its attempt and last failure are named', () => {
    const a = { activityType: { name: 'register' }, state: SCHEDULED, attempt: 3, scheduledTime: msNumberToTs(NOW - 1000), lastFailure: { message: 'MLflow unreachable' } };
    assert.equal(stalledActivity(a, NOW), 'register attempt 3, last failure: MLflow unreachable');
  });
  it('when no worker takes a scheduled activity for 30 s, then the wait is named; before that, or once started, nothing is', () => {
    const waiting = { activityType: { name: 'train' }, state: SCHEDULED, attempt: 1, scheduledTime: msNumberToTs(NOW - 45_000) };
    assert.equal(stalledActivity(waiting, NOW), 'train waiting 45 s for a worker to take it');
    assert.equal(stalledActivity({ ...waiting, scheduledTime: msNumberToTs(NOW - 5_000) }, NOW), undefined);
    assert.equal(stalledActivity({ ...waiting, state: STARTED }, NOW), undefined);
  });
  it('when no worker takes the workflow\'s own task for 30 s, or one took it without completing it, then that is named with the queue', () => {
    const { PENDING_WORKFLOW_TASK_STATE_SCHEDULED, PENDING_WORKFLOW_TASK_STATE_STARTED } = temporal.api.enums.v1.PendingWorkflowTaskState;
    assert.equal(WORKFLOW_TASK_SCHEDULED, PENDING_WORKFLOW_TASK_STATE_SCHEDULED);
    const task = { state: PENDING_WORKFLOW_TASK_STATE_SCHEDULED, attempt: 1, scheduledTime: msNumberToTs(NOW - 40_000) };
    assert.equal(stalledWorkflowTask(task, 'q', NOW), 'workflow waiting 40 s for a worker on task queue q');
    assert.equal(stalledWorkflowTask({ ...task, scheduledTime: msNumberToTs(NOW - 5_000) }, 'q', NOW), undefined);
    assert.equal(stalledWorkflowTask({ ...task, state: PENDING_WORKFLOW_TASK_STATE_STARTED }, 'q', NOW), undefined);
    assert.equal(stalledWorkflowTask(null, 'q', NOW), undefined);
    // A frozen worker's pollers took it: each 10 s timeout reschedules it with the next attempt, in either state.
    for (const state of [PENDING_WORKFLOW_TASK_STATE_SCHEDULED, PENDING_WORKFLOW_TASK_STATE_STARTED]) {
      assert.equal(stalledWorkflowTask({ state, attempt: 2, scheduledTime: msNumberToTs(NOW - 1_000) }, 'q', NOW),
        'workflow task tried 2 times without completing (a worker stopped, stuck or failing it: see its log); task queue q');
    }
  });
  it('when the progress carries a stall, then the line ends with it', () => {
    const line = renderProgress({ status: 'RUNNING', progress: { stage: 'ingest', stages: [{ stage: 'ingest', status: 'running' }] }, stalled: 'ingest attempt 2, last failure: x' });
    assert.match(line, /\] +ingest +ingest attempt 2, last failure: x$/);
  });
});

describe('training progress in the live progress line', () => {
  const training = (t: object) => renderProgress({ status: 'RUNNING', progress: { stage: 'train', stages: [{ stage: 'train', status: 'running' }] }, training: t });
  it('when the trainer said its steps per epoch, then the bar follows the steps, so a one-epoch run is not full from its start', () => {
    assert.match(training({ epoch: 1, epochs: 1, step: 25, stepsPerEpoch: 100, loss: 2 }), /^\[#{6}\.{18}\] +train +epoch 1\/1 +loss 2\.0000$/);
    assert.match(training({ epoch: 2, epochs: 4, step: 150, stepsPerEpoch: 100 }), /^\[#{9}\.{15}\]/);
  });
  it('when no steps per epoch are known (an older heartbeat), then the bar follows the epochs as before', () => {
    assert.match(training({ epoch: 1, epochs: 4, step: 10 }), /^\[#{6}\.{18}\]/);
  });
});

describe('ingest progress in the live progress line', () => {
  const ingesting = (phase: string, done: number, total?: number) =>
    renderProgress({ status: 'RUNNING', progress: { stage: 'ingest', stages: [{ stage: 'ingest', status: 'running' }] }, ingesting: { phase, done, total } });

  it('when ingest reports a counted phase, then the line names it with its count and the bar follows the phase', () => {
    assert.equal(ingesting('decode-images', 9000, 36000), `[${'#'.repeat(6)}${'.'.repeat(18)}]  ingest    decoding images 9000/36000`);
    assert.match(ingesting('hash-source', 3, 4), /^\[#{18}\.{6}\] +ingest +hashing files 3\/4$/);
    assert.match(ingesting('generate', 10), /ingest +generating faces 10$/);
  });
  it('when ingest reads or downloads bytes, then they are shown in MB; a phase the CLI does not know is shown by its name', () => {
    assert.match(ingesting('parse-csv', 120_400_000, 296_000_000), /reading the CSV 120\/296 MB$/);
    assert.match(ingesting('download', 2_500_000), /downloading 2\.5 MB$/);
    assert.match(ingesting('write', 0, 1), /writing the dataset$/);
    assert.match(ingesting('unzip', 2, 5), /unzip 2\/5$/);
  });
  it('when the pipeline has left ingest, then a last ingest heartbeat is not shown', () => {
    const line = renderProgress({ status: 'RUNNING', progress: { stage: 'evaluate', stages: [] }, ingesting: { phase: 'decode-images', done: 1, total: 2 } });
    assert.doesNotMatch(line, /decoding/);
  });
  it('when the ingest activity has heartbeated, then readProgress returns its last progress beside the stage', async () => {
    const beat = defaultPayloadConverter.toPayload({ phase: 'decode-images', done: 40, total: 80 });
    const handle = {
      describe: async () => ({
        status: { name: 'RUNNING' },
        taskQueue: 'q',
        raw: { pendingActivities: [{ activityType: { name: 'ingest' }, state: STARTED, attempt: 1, heartbeatDetails: { payloads: [beat] } }] },
      }),
      query: async () => ({ stage: 'ingest', stages: [{ stage: 'ingest', status: 'running' }] }),
    } as unknown as WorkflowHandle;
    const p = await readProgress(handle);
    assert.deepEqual(p.ingesting, { phase: 'decode-images', done: 40, total: 80 });
    assert.equal(p.training, undefined);
    assert.match(renderProgress(p), /ingest +decoding images 40\/80$/);
  });
});

describe('following a rollout of its own (ferops deploy)', () => {
  it('when the rollout moves through its phases, no worker at first, Temporal once unreachable, then the wait, each phase as it starts and each window decision are printed once, and its result is returned', async () => {
    const numbers = { canaryRequests: 40, shadowAgreement: 0.9, shadowKappa: 0.8, shadowKappaLow: 0.7, shadowKappaHigh: 0.9, latencyRatio: 1.1, classDivergence: 0.01, confidenceRatio: 1 };
    const shadowPass: RolloutDecision = { phase: 'shadow', canaryWeight: 0, attempt: 1, analysis: { verdict: 'pass', reasons: ['no regression shown'], numbers } };
    const stepPass: RolloutDecision = { ...shadowPass, phase: 'traffic', canaryWeight: 50 };
    const noWorker = { state: WORKFLOW_TASK_SCHEDULED, attempt: 1, scheduledTime: msNumberToTs(Date.now() - 60_000) };
    const states: [string, RolloutState | undefined, object?][] = [
      ['RUNNING', undefined, noWorker],
      ['RUNNING', undefined, noWorker],
      ['RUNNING', { phase: 'waiting_for_deployment', waitingFor: 'deployment-lease/m', canaryWeight: 0, paused: false, decisions: [] }],
      ['RUNNING', { phase: 'shadow', canaryWeight: 0, paused: false, decisions: [] }],
      ['unreachable', { phase: 'shadow', canaryWeight: 0, paused: false, decisions: [] }],
      ['RUNNING', { phase: 'shadow', canaryWeight: 0, paused: true, decisions: [] }],
      ['RUNNING', { phase: 'traffic', canaryWeight: 50, paused: false, decisions: [shadowPass] }],
      ['RUNNING', { phase: 'traffic', canaryWeight: 50, paused: false, decisions: [shadowPass] }],
      ['COMPLETED', { phase: 'promoted', canaryWeight: 0, paused: false, decisions: [shadowPass, stepPass] }],
    ];
    const result: RolloutResult = { outcome: 'promoted', reason: 'every window passed', decisions: [shadowPass, stepPass] };
    let i = -1;
    const handle = {
      describe: async () => {
        if (states[++i][0] === 'unreachable') throw new Error('14 UNAVAILABLE: Temporal restarting');
        return { status: { name: states[i][0] }, taskQueue: 'q', raw: { pendingWorkflowTask: states[i][2] } };
      },
      query: async () => states[i][1] ?? Promise.reject(new Error('no worker answered the query')),
      result: async () => result,
    } as unknown as WorkflowHandle<typeof canaryRollout>;
    let printed = '';
    const out = { write: (s: string) => ((printed += s), true) } as unknown as NodeJS.WritableStream;
    assert.deepEqual(await followRollout(handle, { out, everyMs: 0 }), result);
    const [first, ...rest] = printed.trimEnd().split('\n');
    assert.match(first, /^workflow waiting 6\d s for a worker on task queue q$/);
    assert.deepEqual(rest, [
      'waiting for deployment (another rollout of this model holds deployment-lease/m)',
      'shadow',
      'shadow paused',
      '  canary shadow 0% (window 1): pass - no regression shown (40 canary requests, agreement 0.90, kappa 0.80 (95 % CI 0.70..0.90))',
      'traffic 50%',
      '  canary traffic 50% (window 1): pass - no regression shown (40 canary requests, p95 1.10x, class JS 0.010, confidence 1.00x)',
    ]);
  });
});
