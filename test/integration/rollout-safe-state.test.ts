import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { temporal as proto } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../../activities';
import { createDeployActivities } from '../../activities/deploy';
import { InferenceAdminClient } from '../../lib/inference-admin/client';
import { ingestDataset } from '../../activities/ingest';
import { promoteChampion } from '../../activities/register';
import { withDefaults } from '../../lib/pipeline-input';
import { startLoad, type LoadStats } from '../../services/cli/load-generator';
import { ADMIN_TOKEN } from '../../services/inference/testing/harness';
import { desireStable, fleetOf, startFollowingService } from '../helpers/following-service';
import type { RunningServer } from '../../services/inference/server';
import { canaryRollout, type RolloutResult } from '../../workflows/canary-rollout';
import { rolloutStateQuery } from '../../workflows/definitions';
import { fakeActivities, healthyStats, type FakeWorld } from '../helpers/fake-activities';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';
import { registerFixture, startMlflowFixture, type MlflowFixture } from './mlflow-fixtures';

// Issue #17: once the candidate is loaded, every way out of canaryRollout ends rolled back or promoted, with the
// reason recorded, however long the service or the registry is away. First with real processes (a Temporal dev
// server, MLflow, the inference service behind a TCP proxy that cuts the worker off), then the other ways out
// with in-memory activities.
const NAME = 'safe-state-test';
// The deploy activities' retry budget: 8 attempts, 1 s doubling to 15 s, about 60 s of back-off when every
// attempt is refused at once. The cut lasts past it, so only the rollback's own patient retries can finish.
const DEPLOY_RETRY_BUDGET_MS = 60_000;

let mlflow: MlflowFixture;
let temporal: TemporalTestEnv;
let service: RunningServer;
let proxy: TcpProxy;
let dataRoot: string;
let datasetUri: string;
const versions: Record<string, string> = {};

const register = (fixture: string) => registerFixture(mlflow.client, NAME, NAME, fixture);

/** Polls until `check` holds; its last answer is the failure message when it never does. */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(250)) if (await check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

const serviceState = () => new InferenceAdminClient(service.url, ADMIN_TOKEN).slots();

before(async () => {
  [mlflow, temporal] = await Promise.all([startMlflowFixture(), startTemporalTestEnv()]);
  dataRoot = mkdtempSync(join(tmpdir(), 'ferops-safe-state-'));
  datasetUri = (await ingestDataset({ kind: 'synthetic', size: 100, seed: 7 }, { dataRoot })).uri;
  versions.stable = await register('strips');
  versions.candidate = await register('strips');
  await desireStable(mlflow.server.url, NAME, versions.stable);
  service = await startFollowingService(mlflow.server.url, NAME);
  await promoteChampion({ client: mlflow.client, name: NAME, version: versions.stable, reason: 'baseline' });
  proxy = await startTcpProxy(service.port);
}, { timeout: 300_000 });

after(async () => {
  await proxy?.close();
  await service?.stop();
  await temporal?.teardown();
  await mlflow?.stop();
  if (dataRoot) rmSync(dataRoot, { recursive: true, force: true });
});

describe('canaryRollout ends in a safe state: real service, registry and a network cut', { timeout: 600_000 }, () => {
  it('when the worker is cut off from the service past the retry budget mid traffic step, then on reconnection stable alone serves and the version carries the rollback reason', async (t) => {
    const taskQueue = `safe-state-${randomUUID()}`;
    // The worker reaches the service only through the proxy; clients and this test talk to the service directly.
    const worker = await temporal.createWorker({ taskQueue, activities: createDeployActivities(fleetOf(proxy.url), mlflow.client, NAME) });
    const load = startLoad(service.url, datasetUri, 5);
    let clients: LoadStats;
    try {
      await worker.runUntil(async () => {
        const rollout = withDefaults({ rollout: { shadowSeconds: 0, windowSeconds: 4, steps: [25, 100], minRequests: 5, maxExtensions: 1 } }).rollout;
        const handle = await temporal.client.workflow.start(canaryRollout, {
          taskQueue, workflowId: `safe-state-cut-${randomUUID()}`, args: [{ modelName: NAME, version: versions.candidate, rollout }],
        });
        // The service's own state, not the rollout's (that is set before its setTraffic call has landed), and the
        // step's setTraffic finished: it confirms the replica through the proxy, so a cut before its next poll
        // would leave the step itself waiting out its retries instead of the window's readStats.
        await waitFor('the service to send the canary 25% of traffic, and the step to complete', async () => {
          const s = await serviceState().catch(() => undefined);
          if (s?.canary?.version !== versions.candidate || s.traffic.canaryWeight !== 25) return false;
          return pendingAttempts((await handle.describe()).raw.pendingActivities, 'setTraffic') === 0;
        }, 120_000);
        await proxy.cut();
        const cutAt = Date.now();

        // The window ends, readStats is refused until its retries run out, and the rollback then waits for the
        // service: the workflow must still be running, with the rollback pending, once the budget is spent.
        await waitFor('the rollback to wait for the service, or the rollout to end', async () => {
          const d = await handle.describe();
          return d.status.name !== 'RUNNING' || pendingAttempts(d.raw.pendingActivities, 'rollbackService') >= 1;
        }, DEPLOY_RETRY_BUDGET_MS + 120_000);
        // The rollback lands on the replica through the registry within a poll.
        await waitFor('the replica to follow the rollback', async () => (await serviceState()).canary === null, 10_000);
        const described = await handle.describe();
        const cutOff = await serviceState();
        const failure = described.status.name === 'RUNNING' ? '' : await handle.result().then(() => 'completed', failureChain);
        const left = `canary ${cutOff.canary?.version ?? 'none'} at ${cutOff.traffic.canaryWeight}%`;
        assert.equal(described.status.name, 'RUNNING', `the rollout ended while cut off from the service, leaving ${left}: ${failure}`);
        // The rollback is a desired state in the registry, which the replica reads itself: it is served already,
        // though the worker cannot see the replica to confirm it (and so keeps waiting).
        assert.equal(cutOff.canary, null, `the replica followed the rollback through the registry, leaving ${left}`);
        assert.equal(cutOff.traffic.canaryWeight, 0);
        assert.ok(Date.now() - cutAt > DEPLOY_RETRY_BUDGET_MS, 'the cut outlasted the deploy retry budget');

        await proxy.reconnect();
        const reconnectedAt = Date.now();
        const result: RolloutResult = await handle.result();
        const settledMs = Date.now() - reconnectedAt;

        assert.equal(result.outcome, 'rolled_back');
        assert.match(result.reason, /^readStats failed: no inference replica answers: http:\/\/127\.0\.0\.1:\d+ unreachable/);
        const after = await serviceState();
        assert.equal(after.stable?.version, versions.stable, 'stable serves');
        assert.equal(after.canary, null, 'the canary slot is empty');
        assert.equal(after.traffic.canaryWeight, 0);
        assert.equal(after.traffic.shadow, false);
        const tags = Object.fromEntries((await mlflow.client.getModelVersion(NAME, versions.candidate)).tags?.map((x) => [x.key, x.value]) ?? []);
        assert.equal(tags['ferops.rollback'], 'true');
        assert.equal(tags['ferops.rollback_reason'], result.reason);
        assert.equal((await mlflow.client.getModelVersionByAlias(NAME, 'champion'))?.version, versions.stable);
        t.diagnostic(`cut for ${reconnectedAt - cutAt} ms; settled ${settledMs} ms after reconnection; reason: ${result.reason}`);
      });
    } finally {
      clients = await load.stop();
    }
    t.diagnostic(`client requests during the rollout: ${JSON.stringify(clients)}`);
    assert.equal(clients.failed, 0, 'no client request failed');
  });
});

function failureChain(e: unknown): string {
  const messages: string[] = [];
  for (let c = e as Error | undefined; c; c = c.cause as Error | undefined) messages.push(c.message);
  return messages.join(' <- ');
}

function pendingAttempts(pending: { activityType?: { name?: string | null } | null; attempt?: number | null }[] | null | undefined, type: string): number {
  return pending?.find((p) => p.activityType?.name === type)?.attempt ?? 0;
}

// The other ways out, with in-memory activities: each stands in for a failure past the retry budget with a
// non-retryable one, so the workflow sees the same ActivityFailure without waiting the budget out.
describe('canaryRollout ends in a safe state: every other way out', { timeout: 240_000 }, () => {
  const FAST = withDefaults({ rollout: { shadowSeconds: 1, windowSeconds: 1, steps: [10, 100], minRequests: 20, maxExtensions: 1 } }).rollout;
  const gone = (what: string) => ApplicationFailure.nonRetryable(`${what} (retries exhausted)`, 'Unavailable');

  function world(): FakeWorld {
    return { calls: [], deployment: { stable: { version: '6', source: 'models:/m/6' }, canaryWeight: 0, shadow: false }, stats: healthyStats, accuracy: 0.8 };
  }

  async function run(w: FakeWorld, override: (a: Activities) => Partial<Activities>, during?: (h: WorkflowHandle<typeof canaryRollout>) => Promise<void>): Promise<RolloutResult> {
    const taskQueue = `safe-state-${randomUUID()}`;
    const base = fakeActivities(w);
    const worker = await temporal.createWorker({ taskQueue, activities: { ...base, ...override(base) } });
    return worker.runUntil(async () => {
      const handle = await temporal.client.workflow.start(canaryRollout, { taskQueue, workflowId: `safe-state-${randomUUID()}`, args: [{ modelName: 'm', version: '7', rollout: FAST }] });
      await during?.(handle);
      return handle.result();
    });
  }

  it('when the service restarted and refuses the next traffic step (409), then the rollout rolls back and records the 409', async () => {
    const w = world();
    const result = await run(w, (a) => ({
      async setTraffic(i) {
        if (i.canaryWeight !== 100) return a.setTraffic(i);
        w.calls.push('setTraffic:409');
        throw ApplicationFailure.nonRetryable('inference PUT /admin/v1/traffic -> 409: {"error":"no_canary"}', 'BadInput');
      },
    }));
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason, /^setTraffic failed: .*409/);
    assert.deepEqual(w.calls.slice(-3), ['setTraffic:409', 'rollbackService', 'tagRollback']);
    assert.equal(w.deployment.canaryWeight, 0);
  });

  it('when the registry fails promoteChampion after the service promoted, then promoteChampion is retried and the rollout ends promoted', async () => {
    const w = world();
    let refused = 0;
    const result = await run(w, (a) => ({
      async promoteChampion(i) {
        if (refused++ === 0) throw gone('registry unreachable');
        return a.promoteChampion(i);
      },
    }));
    assert.equal(result.outcome, 'promoted');
    assert.deepEqual(w.calls.slice(-2), ['promoteService', 'promoteChampion']);
    assert.equal(refused, 2, 'asked again after the first call failed');
    assert.ok(!w.calls.includes('rollbackService'), 'the service, already promoted, is left as it is');
    assert.equal(w.deployment.stable?.version, '7');
  });

  it('when promoteService fails after the service did promote, then the rollout reads the service and ends promoted', async () => {
    const w = world();
    const result = await run(w, (a) => ({
      async promoteService() {
        await a.promoteService();
        throw gone('answer lost');
      },
    }));
    assert.equal(result.outcome, 'promoted');
    assert.deepEqual(w.calls.slice(-3), ['promoteService', 'deploymentState', 'promoteChampion']);
  });

  it('when promoteService fails and the service did not promote, then the rollout rolls back', async () => {
    const w = world();
    const result = await run(w, () => ({
      async promoteService() {
        w.calls.push('promoteService:refused');
        throw gone('service unreachable');
      },
    }));
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason, /^promotion failed: promoteService failed: service unreachable/);
    assert.deepEqual(w.calls.slice(-4), ['promoteService:refused', 'deploymentState', 'rollbackService', 'tagRollback']);
    assert.equal(w.deployment.stable?.version, '6');
  });

  it('when the rollout is cancelled mid-window, then it rolls back before it ends cancelled', async () => {
    const w = world();
    const slow = { ...FAST, windowSeconds: 30 };
    const taskQueue = `safe-state-${randomUUID()}`;
    const worker = await temporal.createWorker({ taskQueue, activities: fakeActivities(w) });
    await worker.runUntil(async () => {
      const handle = await temporal.client.workflow.start(canaryRollout, { taskQueue, workflowId: `safe-state-${randomUUID()}`, args: [{ modelName: 'm', version: '7', rollout: slow }] });
      await waitFor('the first traffic step', async () => (await handle.query(rolloutStateQuery).catch(() => undefined))?.phase === 'traffic', 60_000);
      await handle.cancel();
      await assert.rejects(handle.result(), (e: unknown) => {
        assert.ok(e instanceof WorkflowFailedError);
        assert.ok(e.cause instanceof CancelledFailure);
        return true;
      });
    });
    assert.deepEqual(w.calls.slice(-2), ['rollbackService', 'tagRollback']);
    assert.equal(w.deployment.canaryWeight, 0);
  });
});

// Executions that failed or rolled back before this guarantee existed replay the old way (the `patched` marker is
// absent from their histories), so queries and resets on them stay deterministic. Recorded on the workflow as it
// was before issue #17 with in-memory activities: a 409 on the last traffic step, and a refused load. Never re-record.
describe('canaryRollout ends in a safe state: histories from before it did', { timeout: 120_000 }, () => {
  const HISTORIES: Record<string, string> = {
    'canary-rollout.step-failed.before-safe-state.json': 'recorded-step-failed',
    'canary-rollout.load-failed.before-safe-state.json': 'recorded-load-failed',
  };
  for (const [file, workflowId] of Object.entries(HISTORIES)) {
    it(`when ${file} is replayed on the current code, then it is deterministic`, async () => {
      const history = proto.api.history.v1.History.fromObject(JSON.parse(readFileSync(join(__dirname, '..', 'histories', file), 'utf8')));
      await Worker.runReplayHistory({ workflowsPath: require.resolve('../../workflows') }, history, workflowId);
    });
  }
});
