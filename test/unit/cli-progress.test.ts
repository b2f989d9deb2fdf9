import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { msNumberToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import type { WorkflowHandle } from '@temporalio/client';
import { followRollout } from '../../services/cli/follow';
import { stalledActivity } from '../../services/cli/pipeline-runner';
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
  it('when the progress carries a stall, then the line ends with it', () => {
    const line = renderProgress({ status: 'RUNNING', progress: { stage: 'ingest', stages: [{ stage: 'ingest', status: 'running' }] }, stalled: 'ingest attempt 2, last failure: x' });
    assert.match(line, /\] +ingest +ingest attempt 2, last failure: x$/);
  });
});

describe('following a rollout of its own (ferops deploy)', () => {
  it('when the rollout moves through its phases, Temporal once unreachable, then each phase is printed once as it starts and each window decision once, and its result is returned', async () => {
    const numbers = { canaryRequests: 40, shadowAgreement: 0.9, shadowKappa: 0.8, shadowKappaLow: 0.7, shadowKappaHigh: 0.9, latencyRatio: 1.1, classDivergence: 0.01, confidenceRatio: 1 };
    const shadowPass: RolloutDecision = { phase: 'shadow', canaryWeight: 0, attempt: 1, analysis: { verdict: 'pass', reasons: ['no regression shown'], numbers } };
    const stepPass: RolloutDecision = { ...shadowPass, phase: 'traffic', canaryWeight: 50 };
    const states: [string, RolloutState][] = [
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
        return { status: { name: states[i][0] } };
      },
      query: async () => states[i][1],
      result: async () => result,
    } as unknown as WorkflowHandle<typeof canaryRollout>;
    let printed = '';
    const out = { write: (s: string) => ((printed += s), true) } as unknown as NodeJS.WritableStream;
    assert.deepEqual(await followRollout(handle, { out, everyMs: 0 }), result);
    assert.deepEqual(printed.trimEnd().split('\n'), [
      'waiting for deployment (another rollout of this model holds deployment-lease/m)',
      'shadow',
      'shadow paused',
      '  canary shadow 0% (window 1): pass - no regression shown (40 canary requests, agreement 0.90, kappa 0.80 (95 % CI 0.70..0.90))',
      'traffic 50%',
      '  canary traffic 50% (window 1): pass - no regression shown (40 canary requests, p95 1.10x, class JS 0.010, confidence 1.00x)',
    ]);
  });
});
