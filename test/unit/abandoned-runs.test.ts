import assert from 'node:assert/strict';
import { test } from 'node:test';
import { outcomeFor } from '../../activities/housekeeping/abandoned-runs';

test('when a pipeline ended without ending its run, then its run records how: terminated, timed out, failed, cancelled or lost', () => {
  assert.equal(outcomeFor('TERMINATED'), 'terminated');
  assert.equal(outcomeFor('CANCELLED'), 'cancelled');
  assert.equal(outcomeFor('TIMED_OUT'), 'timed-out');
  assert.equal(outcomeFor('FAILED'), 'failed');
  assert.equal(outcomeFor(undefined), 'lost');
});

test('when a pipeline still runs (a reset included) or completed, then its run is left to it', () => {
  for (const status of ['RUNNING', 'COMPLETED', 'CONTINUED_AS_NEW', 'PAUSED', 'UNKNOWN'] as const) assert.equal(outcomeFor(status), undefined, status);
});
