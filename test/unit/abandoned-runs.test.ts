import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closingFor } from '../../activities/housekeeping/abandoned-runs';

test('when a pipeline ended without ending its run, then the run ends KILLED if stopped, FAILED otherwise', () => {
  assert.deepEqual(closingFor('TERMINATED'), { outcome: 'terminated', status: 'KILLED' });
  assert.deepEqual(closingFor('CANCELLED'), { outcome: 'cancelled', status: 'KILLED' });
  assert.deepEqual(closingFor('TIMED_OUT'), { outcome: 'timed-out', status: 'FAILED' });
  assert.deepEqual(closingFor('FAILED'), { outcome: 'failed', status: 'FAILED' });
  assert.deepEqual(closingFor(undefined), { outcome: 'lost', status: 'FAILED' });
});

test('when a pipeline still runs (a reset included) or completed, then its run is left to it', () => {
  for (const status of ['RUNNING', 'COMPLETED', 'CONTINUED_AS_NEW', 'PAUSED', 'UNKNOWN'] as const) assert.equal(closingFor(status), undefined, status);
});
