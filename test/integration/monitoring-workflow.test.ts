import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { DriftCheckInput, DriftReport, LogDriftInput } from '../../activities/monitor';
import { driftRetrainWorkflowId } from '../../lib/temporal-constants';
import { ensureDriftSchedule, ensureSchedules } from '../../services/worker/schedules';
import type { DriftMonitorResult, driftMonitor } from '../../workflows/drift-monitor';
import { scriptedDriftReport } from '../helpers/drift-report';
import { fakeActivities, healthyStats, type FakeWorld } from '../helpers/fake-activities';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

// The driftMonitor workflow and its Schedule against a real Temporal dev server, with in-memory activities
// (the real ones are tested in monitoring-drift-e2e.test.ts). Schedules fire every second here.

let env: TemporalTestEnv;
before(async () => (env = await startTemporalTestEnv()), { timeout: 120_000 });
after(async () => env?.teardown());

const report = (championVersion: string, drifted: boolean): DriftReport =>
  scriptedDriftReport({ modelName: 'ferops-fer', championVersion, datasetId: 'abc123', drifted });

function monitorWorld(next: () => DriftReport) {
  const w: FakeWorld = { calls: [], deployment: { canaryWeight: 0, shadow: false }, stats: healthyStats, accuracy: 0.1 };
  const logged: LogDriftInput[] = [];
  const checks: DriftCheckInput[] = [];
  const activities = {
    ...fakeActivities(w),
    async checkDrift(i: DriftCheckInput) {
      checks.push(i);
      return next();
    },
    async logDriftReport(i: LogDriftInput) {
      logged.push(i);
      return 'run-1';
    },
  };
  return { w, logged, checks, activities };
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(100)) if (cond()) return;
  throw new Error(`timed out waiting for ${what}`);
}

describe('driftMonitor', { timeout: 150_000 }, () => {
  it('when the schedule keeps finding drift for one champion, then exactly one retraining starts across the runs', async () => {
    const taskQueue = `tq-${randomUUID()}`;
    const scheduleId = `drift-${randomUUID()}`;
    const champion = `c${randomUUID().slice(0, 8)}`;
    const m = monitorWorld(() => report(champion, true));
    const worker = await env.createWorker({ taskQueue, activities: m.activities });
    await worker.runUntil(async () => {
      const created = await ensureDriftSchedule(env.client, { every: '1s', taskQueue, scheduleId, input: { windowSeconds: 30, minSamples: 50, retrain: { trainingTaskQueue: taskQueue } } });
      assert.equal(created.created, true);
      // Three monitor runs, and the retraining they started has finished (the fake gate refuses its model).
      await waitFor(() => m.logged.length >= 3 && m.w.calls.includes('register'), 60_000, '3 monitor runs and a finished retraining');
      await waitFor(() => m.logged.length >= 4, 30_000, 'a monitor run after the retraining closed');
      await env.client.schedule.getHandle(scheduleId).delete();
      const retrain = env.client.workflow.getHandle(driftRetrainWorkflowId('ferops-fer', champion));
      assert.equal((await retrain.result()).outcome, 'refused');
    });
    assert.equal(m.w.calls.filter((c) => c === 'ingest').length, 1, 'one pipeline ran');
    assert.deepEqual(m.checks[0], { windowSeconds: 30, psiThreshold: 0.25, minSamples: 50 });
    const steps = m.logged.map((l) => l.at);
    assert.equal(new Set(steps).size, steps.length, 'each run logs at its own timestamp');
  });

  it('when a monitor is started with a bad setting, then it fails at once as BadInput, and a schedule with it is refused', async () => {
    const taskQueue = `tq-${randomUUID()}`;
    const m = monitorWorld(() => report('1', true));
    const worker = await env.createWorker({ taskQueue, activities: m.activities });
    await worker.runUntil(async () => {
      const run = env.client.workflow.execute('driftMonitor', { taskQueue, workflowId: `mon-${randomUUID()}`, args: [{ psiThreshold: '0.2', retrain: { trainingTaskQueue: taskQueue } }] });
      await assert.rejects(run, (e: unknown) => {
        assert.ok(e instanceof WorkflowFailedError && e.cause instanceof ApplicationFailure);
        assert.equal(e.cause.type, 'BadInput');
        assert.equal(e.cause.message, 'bad_input: psiThreshold: Expected number, received string');
        return true;
      });
    });
    assert.equal(m.checks.length, 0, 'no drift check ran');
    const scheduleId = `drift-${randomUUID()}`;
    await assert.rejects(ensureDriftSchedule(env.client, { every: '1s', taskQueue, scheduleId, input: { retrain: { rollout: { steps: [] } } } }), /^Error: bad drift monitor input: retrain: rollout.steps: Array must contain at least 1 element\(s\)$/);
    await assert.rejects(env.client.schedule.getHandle(scheduleId).describe(), /not found/i);
  });

  it('when one champion drifts repeatedly, then the first run starts the retraining and later runs report it already started', async () => {
    const taskQueue = `tq-${randomUUID()}`;
    const champion = `d${randomUUID().slice(0, 8)}`;
    const m = monitorWorld(() => report(champion, true));
    const worker = await env.createWorker({ taskQueue, activities: m.activities });
    const results = await worker.runUntil(async () => {
      const out: DriftMonitorResult[] = [];
      for (let i = 0; i < 3; i++) {
        out.push(await env.client.workflow.execute<typeof driftMonitor>('driftMonitor', { taskQueue, workflowId: `mon-${randomUUID()}`, args: [{ retrain: { trainingTaskQueue: taskQueue } }] }));
      }
      return out;
    });
    assert.deepEqual(results.map((r) => r.retraining?.status), ['started', 'already_started', 'already_started']);
    assert.equal(results[0].retraining?.workflowId, `retrain-drift-ferops-fer-v${champion}`);
  });

  it('when there is no drift, or no champion yet, then reports are logged and no retraining starts', async () => {
    const taskQueue = `tq-${randomUUID()}`;
    let n = 0;
    const m = monitorWorld(() => (n++ === 0 ? { status: 'no_champion', modelName: 'ferops-fer' } : report('9', false)));
    const worker = await env.createWorker({ taskQueue, activities: m.activities });
    const results = await worker.runUntil(async () => {
      const out: DriftMonitorResult[] = [];
      for (let i = 0; i < 3; i++) out.push(await env.client.workflow.execute<typeof driftMonitor>('driftMonitor', { taskQueue, workflowId: `mon-${randomUUID()}` }));
      return out;
    });
    assert.deepEqual(results.map((r) => r.retraining), [null, null, null]);
    assert.deepEqual(results.map((r) => r.report.status), ['no_champion', 'checked', 'checked']);
    assert.equal(m.logged.length, 3);
    assert.equal(m.w.calls.length, 0, 'no pipeline activity ran');
    assert.deepEqual(m.checks[0], { windowSeconds: 600, psiThreshold: 0.25, minSamples: 200 });
  });

  it('when the schedules are ensured again with other intervals, then they are updated in place, not duplicated', async () => {
    const ids = { drift: `drift-${randomUUID()}`, housekeeping: `housekeeping-${randomUUID()}` };
    assert.equal((await ensureDriftSchedule(env.client, { every: '10m', scheduleId: ids.drift })).created, true);
    // The worker's path: both schedules, twice (a worker restarted with new intervals).
    await ensureSchedules(env.client, { drift: { every: '3m', scheduleId: ids.drift }, housekeeping: { every: '1m', scheduleId: ids.housekeeping } });
    await ensureSchedules(env.client, { drift: { every: '3m', scheduleId: ids.drift }, housekeeping: { every: '2m', scheduleId: ids.housekeeping } });
    for (const [id, every, workflowType] of [[ids.drift, 180_000, 'driftMonitor'], [ids.housekeeping, 120_000, 'housekeeping']] as const) {
      const handle = env.client.schedule.getHandle(id);
      const d = await handle.describe();
      assert.equal(d.spec.intervals?.length, 1);
      assert.equal(d.spec.intervals?.[0]?.every, every);
      assert.equal(d.action.type === 'startWorkflow' ? d.action.workflowType : '', workflowType);
      await handle.delete();
    }
  });
});
