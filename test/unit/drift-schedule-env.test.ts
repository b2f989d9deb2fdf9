import assert from 'node:assert/strict';
import { test } from 'node:test';
import { driftScheduleFromEnv, housekeepingScheduleFromEnv } from '../../services/worker/schedules';

test('when no FEROPS_DRIFT_* keys are set, then the schedule runs every 10 minutes with the workflow defaults', () => {
  assert.deepEqual(driftScheduleFromEnv({}), { every: '10m', input: { windowSeconds: undefined, psiThreshold: undefined, minSamples: undefined } });
});

test('when FEROPS_DRIFT_* keys are set, then they become the interval and the monitor input', () => {
  const o = driftScheduleFromEnv({ FEROPS_DRIFT_INTERVAL: '30s', FEROPS_DRIFT_WINDOW_SECONDS: '120', FEROPS_DRIFT_PSI_THRESHOLD: '0.1', FEROPS_DRIFT_MIN_SAMPLES: '50' });
  assert.deepEqual(o, { every: '30s', input: { windowSeconds: 120, psiThreshold: 0.1, minSamples: 50 } });
  assert.equal(driftScheduleFromEnv({ FEROPS_TASK_QUEUE: 'other-queue' }).taskQueue, 'other-queue');
});

test('when a numeric key is not a positive number, then it fails naming the key', () => {
  assert.throws(() => driftScheduleFromEnv({ FEROPS_DRIFT_PSI_THRESHOLD: 'high' }), /FEROPS_DRIFT_PSI_THRESHOLD must be a positive number/);
  assert.throws(() => driftScheduleFromEnv({ FEROPS_DRIFT_MIN_SAMPLES: '-5' }), /FEROPS_DRIFT_MIN_SAMPLES/);
});

test('when FEROPS_DRIFT_RETRAIN holds pipeline overrides, then they become the retraining input; bad JSON fails clearly', () => {
  const o = driftScheduleFromEnv({ FEROPS_DRIFT_RETRAIN: '{"dataset":{"kind":"image-folder","path":"/data/feedback/crops"}}' });
  assert.deepEqual(o.input?.retrain, { dataset: { kind: 'image-folder', path: '/data/feedback/crops' } });
  assert.throws(() => driftScheduleFromEnv({ FEROPS_DRIFT_RETRAIN: '{dataset' }), /FEROPS_DRIFT_RETRAIN is not JSON/);
  assert.throws(() => driftScheduleFromEnv({ FEROPS_DRIFT_RETRAIN: '[1]' }), /must be a JSON object/);
  // Well-formed JSON that the pipeline would refuse: refused when the worker starts, not at the first drift.
  assert.throws(() => driftScheduleFromEnv({ FEROPS_DRIFT_RETRAIN: '{"rollout":{"steps":"50"}}' }), /^Error: FEROPS_DRIFT_RETRAIN: bad drift monitor input: retrain: rollout.steps/);
});

test('when FEROPS_HOUSEKEEPING_INTERVAL is unset or set, then housekeeping runs every 5 minutes or at that interval', () => {
  assert.deepEqual(housekeepingScheduleFromEnv({}), { every: '5m' });
  assert.deepEqual(housekeepingScheduleFromEnv({ FEROPS_HOUSEKEEPING_INTERVAL: '90s', FEROPS_TASK_QUEUE: 'q' }), { every: '90s', taskQueue: 'q' });
});

test('when an interval is not a duration of at least a second, then it fails naming the key, before any schedule is made', () => {
  assert.throws(() => housekeepingScheduleFromEnv({ FEROPS_HOUSEKEEPING_INTERVAL: 'five minutes' }), /FEROPS_HOUSEKEEPING_INTERVAL must be a duration/);
  assert.throws(() => housekeepingScheduleFromEnv({ FEROPS_HOUSEKEEPING_INTERVAL: '0s' }), /FEROPS_HOUSEKEEPING_INTERVAL/);
  assert.throws(() => driftScheduleFromEnv({ FEROPS_DRIFT_INTERVAL: 'ten minutes' }), /FEROPS_DRIFT_INTERVAL must be a duration/);
});
