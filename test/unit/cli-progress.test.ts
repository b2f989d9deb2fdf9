import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { msNumberToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { stalledActivity } from '../../services/cli/pipeline-runner';
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
