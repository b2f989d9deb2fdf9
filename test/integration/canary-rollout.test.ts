import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { InferenceAdminClient } from '../../lib/inference-admin/client';
import { withDefaults } from '../../lib/pipeline-input';
import { startLoad } from '../../services/cli/load-generator';
import { ADMIN_TOKEN } from '../../services/inference/testing/harness';
import type { RunningServer } from '../../services/inference/server';
import { canaryRollout, type RolloutResult } from '../../workflows/canary-rollout';
import { abortSignal, approveUpdate, pauseSignal, rolloutStateQuery } from '../../workflows/definitions';
import { deploymentLeaseId } from '../../lib/temporal-constants';
import type { MlflowFixture } from './mlflow-fixtures';
import { startRolloutLab, type RolloutLab } from '../helpers/rollout-lab';
import type { TemporalTestEnv } from '../helpers/temporal-env';

// canaryRollout with its real activities: a real Temporal dev server, a real MLflow registry and the real
// inference service, with a load generator sending real faces the whole time. Clients must never see a failure.
const NAME = 'canary-test';
const ROLLOUT = withDefaults({ rollout: { shadowSeconds: 3, windowSeconds: 3, steps: [25, 100], minRequests: 5, maxExtensions: 1 } }).rollout;

let lab: RolloutLab;
let mlflow: MlflowFixture;
let temporal: TemporalTestEnv;
let service: RunningServer;
let datasetUri: string;
let taskQueue: string;
const versions: Record<string, string> = {};

const register = (fixture: string) => lab.register(fixture);

async function rollout(
  version: string,
  opts: { approval?: 'required'; maxLatencyRatio?: number; during?: (h: WorkflowHandle<typeof canaryRollout>) => Promise<void> } = {},
): Promise<{ result: RolloutResult; load: { sent: number; ok: number; failed: number } }> {
  const load = startLoad(service.url, datasetUri, 25);
  try {
    const handle = await temporal.client.workflow.start(canaryRollout, {
      taskQueue, workflowId: `rollout-${randomUUID()}`, args: [{ modelName: NAME, version, rollout: { ...ROLLOUT, approval: opts.approval ?? 'none', thresholds: { ...ROLLOUT.thresholds, maxLatencyRatio: opts.maxLatencyRatio ?? ROLLOUT.thresholds.maxLatencyRatio } } }],
    });
    await opts.during?.(handle);
    const result = await handle.result();
    return { result, load: await load.stop() };
  } catch (e) {
    await load.stop();
    throw e;
  }
}

async function waitForPhase(h: WorkflowHandle<typeof canaryRollout>, phase: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if ((await h.query(rolloutStateQuery).catch(() => undefined))?.phase === phase) return;
    await sleep(100);
  }
  throw new Error(`rollout never reached ${phase}`);
}

const stableVersion = async () => (await new InferenceAdminClient(service.url, ADMIN_TOKEN).slots()).stable?.version;

before(async () => {
  lab = await startRolloutLab(NAME);
  ({ mlflow, temporal, service, datasetUri, taskQueue } = lab);
  versions.strips = lab.stable;
  for (const f of ['constant-happy', 'fails-on-bright', 'failing']) versions[f] = await register(f);
  versions.stripsAborted = await register('strips');
  versions.stripsAgain = await register('strips');
  for (const v of ['heldFirst', 'heldSecond', 'queuedA', 'queuedB', 'queuedC']) versions[v] = await register('strips');
}, { timeout: 300_000 });

after(() => lab?.stop());

describe('canaryRollout against the real service and registry', { timeout: 600_000 }, () => {
  it('when a candidate always answers one class, then it is rolled back in shadow, before any traffic moves, and no client request fails', async () => {
    const { result, load } = await rollout(versions['constant-happy']);
    assert.equal(result.outcome, 'rolled_back');
    // Its agreement with stable is exactly chance (kappa 0); a short window may need an extension to show it.
    assert.ok(result.decisions.every((d) => d.phase === 'shadow'), JSON.stringify(result.decisions.map((d) => d.analysis)));
    assert.equal(result.decisions.at(-1)!.analysis.verdict, 'fail');
    assert.equal(result.decisions.at(-1)!.analysis.numbers.shadowKappa, 0);
    assert.equal(load.failed, 0);
    assert.ok(load.ok > 20);
    assert.equal(await stableVersion(), versions.strips);
    const mv = await mlflow.client.getModelVersion(NAME, versions['constant-happy']);
    assert.ok(mv.tags?.some((t) => t.key.startsWith('ferops.canary.shadow')), 'the decision is recorded on the version');
  });

  it('when a candidate errors on some inputs, then it is rolled back while clients only ever see stable answers', async () => {
    const { result, load } = await rollout(versions['fails-on-bright']);
    assert.equal(result.outcome, 'rolled_back');
    assert.equal(result.decisions.length, 1, 'decided at the first window');
    assert.match(result.reason, /error rate/);
    assert.equal(load.failed, 0);
    assert.equal(await stableVersion(), versions.strips);
  });

  it('when a candidate cannot even be loaded, then the rollout ends rolled back with the reason and stable untouched', async () => {
    const { result, load } = await rollout(versions.failing);
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason, /could not be loaded/);
    assert.equal(load.failed, 0);
    assert.equal(await stableVersion(), versions.strips);
  });

  it('when an operator aborts during the shadow window, then the canary is unloaded, stable keeps serving and no client fails', async () => {
    const { result, load } = await rollout(versions.stripsAborted, {
      during: async (h) => {
        await waitForPhase(h, 'shadow');
        await h.signal(abortSignal, 'operator abort');
      },
    });
    assert.equal(result.outcome, 'rolled_back');
    assert.equal(result.reason, 'operator abort');
    assert.equal(load.failed, 0);
    const state = await new InferenceAdminClient(service.url, ADMIN_TOKEN).slots();
    assert.equal(state.stable?.version, versions.strips);
    assert.equal(state.canary, null);
    assert.equal(state.traffic.canaryWeight, 0);
  });

  it('when approval is required and a candidate behaves like stable, then nothing moves until approve, then it goes through every step and becomes champion', async () => {
    const { result, load } = await rollout(versions.stripsAgain, {
      approval: 'required',
      // The same model as stable: only latency could fail it, and a 3 s window at 25 % holds ~19 canary requests,
      // whose p95 is their slowest one, so one scheduler stall on a busy 2-core runner would roll it back.
      maxLatencyRatio: 1000,
      during: async (h) => {
        await waitForPhase(h, 'awaiting_approval');
        await sleep(1000);
        assert.equal((await new InferenceAdminClient(service.url, ADMIN_TOKEN).slots()).canary, null, 'no canary before approval');
        assert.equal(await h.executeUpdate(approveUpdate, { args: [{ approved: true, by: 'alice' }] }), 'approved');
      },
    });
    assert.equal(result.outcome, 'promoted', JSON.stringify(result.decisions.map((d) => d.analysis)));
    assert.deepEqual(result.decisions.filter((d) => d.analysis.verdict === 'pass').map((d) => `${d.phase}:${d.canaryWeight}`), ['shadow:0', 'traffic:25', 'traffic:100']);
    assert.equal(load.failed, 0);
    assert.equal(await stableVersion(), versions.stripsAgain);
    assert.equal((await mlflow.client.getModelVersionByAlias(NAME, 'champion'))?.version, versions.stripsAgain);
    assert.equal((await mlflow.client.getModelVersionByAlias(NAME, 'previous'))?.version, versions.strips);
  });

  const start = (version: string, approval: 'none' | 'required' = 'none') => temporal.client.workflow.start(canaryRollout, {
    taskQueue, workflowId: `rollout-${randomUUID()}`,
    args: [{ modelName: NAME, version, rollout: { ...ROLLOUT, approval, thresholds: { ...ROLLOUT.thresholds, maxLatencyRatio: 1000 } } }],
  });

  it('when a second rollout of the model starts while the first has its canary in shadow, then it loads nothing until the first ends, then goes through and both service and registry serve it', async () => {
    const load = startLoad(service.url, datasetUri, 25);
    try {
      const first = await start(versions.heldFirst);
      await waitForPhase(first, 'shadow');
      await first.signal(pauseSignal);
      const second = await start(versions.heldSecond);
      // Past the second's first retry: the first's canary is untouched, and the second says why it waits.
      await sleep(6000);
      assert.equal((await new InferenceAdminClient(service.url, ADMIN_TOKEN).slots()).canary?.version, versions.heldFirst);
      assert.equal((await second.query(rolloutStateQuery)).phase, 'waiting_for_deployment');
      await first.signal(abortSignal, 'make way');
      assert.equal((await first.result()).outcome, 'rolled_back');
      const result = await second.result();
      assert.equal(result.outcome, 'promoted', JSON.stringify(result.decisions.map((d) => d.analysis)));
      const { events } = await second.fetchHistory();
      assert.ok(events?.some((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'leaseReleased'), 'woken by the release, not by its next try');
      assert.equal(await stableVersion(), versions.heldSecond);
      assert.equal((await mlflow.client.getModelVersionByAlias(NAME, 'champion'))?.version, versions.heldSecond);
      assert.equal((await load.stop()).failed, 0);
    } finally {
      await load.stop();
    }
  });

  it('when rollouts queue behind one that is terminated, then an aborted waiter ends without loading and the next takes the lease', async () => {
    const holder = await start(versions.queuedA, 'required');
    await waitForPhase(holder, 'awaiting_approval');
    const next = await start(versions.queuedB, 'required');
    const aborted = await start(versions.queuedC);
    await Promise.all([waitForPhase(next, 'waiting_for_deployment'), waitForPhase(aborted, 'waiting_for_deployment')]);
    await aborted.signal(abortSignal, 'not now');
    assert.deepEqual(await aborted.result(), { outcome: 'rolled_back', reason: 'not now', decisions: [] });
    const tags = (await mlflow.client.getModelVersion(NAME, versions.queuedC)).tags ?? [];
    assert.ok(tags.some((t) => t.value.includes('not now')), 'the waiter\'s reason is on its version');
    // Terminated, the holder runs no code of its own: the server ends its lease with it.
    await holder.terminate('operator');
    await waitForPhase(next, 'awaiting_approval');
    const lease = await temporal.client.workflow.getHandle(deploymentLeaseId(NAME)).describe();
    assert.equal(lease.status.name, 'RUNNING');
    assert.equal(lease.parentExecution?.workflowId, next.workflowId);
    await next.signal(abortSignal, 'done');
    assert.equal((await next.result()).outcome, 'rolled_back');
    assert.equal((await new InferenceAdminClient(service.url, ADMIN_TOKEN).slots()).canary, null);
  });
});
