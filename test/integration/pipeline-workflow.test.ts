import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { withDefaults, type PipelineInputOverrides } from '../../lib/pipeline-input';
import { deploymentLeaseId } from '../../lib/temporal-constants';
import { rolloutAction } from '../../services/cli/commands/rollout';
import { describeFailure } from '../../services/cli/failure';
import { readProgress, startOrAttach } from '../../services/cli/pipeline-runner';
import { renderProgress } from '../../services/cli/progress-line';
import { listWorkflows, workflowTable, type WorkflowRow } from '../../services/cli/workflow-list';
import type { trainingPipeline } from '../../workflows';
import { abortSignal, approveUpdate, pauseSignal, progressQuery, resumeSignal, rolloutStateQuery } from '../../workflows/definitions';
import { fakeActivities, goodSlot, healthyStats, type FakeWorld } from '../helpers/fake-activities';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

// Workflow logic against a real Temporal dev server, with in-memory activities (the real ones are tested
// in their own files). Windows are 1 s so the durable timers are real but short.
const FAST: PipelineInputOverrides = { rollout: { shadowSeconds: 1, windowSeconds: 1, steps: [10, 100], minRequests: 20, maxExtensions: 1 } };

let env: TemporalTestEnv;
before(async () => (env = await startTemporalTestEnv()), { timeout: 120_000 });
after(async () => env?.teardown());

function world(o: Partial<FakeWorld> = {}): FakeWorld {
  return { calls: [], deployment: { stable: { version: '6', source: 'models:/ferops-fer/6' }, canaryWeight: 0, shadow: false }, stats: healthyStats, accuracy: 0.8, ...o };
}

async function runPipeline(w: FakeWorld, overrides: PipelineInputOverrides = FAST, during?: (h: WorkflowHandle<typeof trainingPipeline>) => Promise<void>) {
  const { result, failure, ...rest } = await settlePipeline(w, overrides, during);
  if (failure !== undefined) throw failure;
  return { result: result!, ...rest };
}

/** Runs a pipeline to its end, failed or not, and reads its progress while a worker can still answer the query. */
async function settlePipeline(w: FakeWorld, overrides: PipelineInputOverrides = FAST, during?: (h: WorkflowHandle<typeof trainingPipeline>) => Promise<void>) {
  const taskQueue = `tq-${randomUUID()}`;
  const worker = await env.createWorker({ taskQueue, activities: fakeActivities(w) });
  return worker.runUntil(async () => {
    // The train activity runs on the pipeline's training queue: here the same queue, served by this worker.
    const { handle } = await startOrAttach(env.client, taskQueue, { ...overrides, trainingTaskQueue: taskQueue }, `test-${randomUUID()}`);
    if (during) await during(handle);
    const settled = await handle.result().then((result) => ({ result, failure: undefined }), (failure: unknown) => ({ result: undefined, failure }));
    // Queries need a worker: read what the tests check while this one still runs.
    return { ...settled, handle, progress: await handle.query(progressQuery), described: await handle.describe() };
  });
}

async function waitForRolloutPhase(h: WorkflowHandle, phase: string): Promise<void> {
  const rollout = env.client.workflow.getHandle(`${h.workflowId}/rollout`);
  for (let i = 0; i < 100; i++) {
    const s = await rollout.query(rolloutStateQuery).catch(() => undefined);
    if (s?.phase === phase) return;
    await sleep(100);
  }
  throw new Error(`rollout never reached ${phase}`);
}

describe('trainingPipeline', { timeout: 240_000 }, () => {
  it('when nothing serves yet, then the first model goes straight to stable and becomes champion', async () => {
    const w = world({ deployment: { canaryWeight: 0, shadow: false } });
    const { result, progress, described } = await runPipeline(w);
    assert.equal(result.outcome, 'promoted');
    assert.equal(result.modelVersion, '7');
    assert.deepEqual(w.calls.slice(0, 6), ['ingest', 'train', 'evaluate', 'register', 'deploymentState', 'loadModel:stable:7']);
    assert.ok(w.calls.includes('promoteChampion'));
    assert.equal(progress.stage, 'done');
    assert.deepEqual(progress.stages.map((s) => `${s.stage}:${s.status}`), ['ingest:completed', 'train:completed', 'evaluate:completed', 'register:completed', 'rollout:completed']);
    assert.deepEqual(described.searchAttributes.FeropsDatasetHash, ['abc123']);
    assert.deepEqual(described.searchAttributes.FeropsModelVersion, ['7']);
  });

  it('when a stable model serves and every window is healthy, then the candidate goes through shadow and each step and is promoted', async () => {
    const w = world();
    const { result } = await runPipeline(w);
    assert.equal(result.outcome, 'promoted');
    assert.deepEqual(result.rollout!.decisions.map((d) => `${d.phase}:${d.canaryWeight}:${d.analysis.verdict}`), ['shadow:0:pass', 'traffic:10:pass', 'traffic:100:pass']);
    assert.deepEqual(w.calls.filter((c) => c.startsWith('setTraffic')), ['setTraffic:0:true', 'setTraffic:10:false', 'setTraffic:100:false']);
    assert.ok(w.calls.indexOf('promoteService') < w.calls.indexOf('promoteChampion'));
  });

  it('when the canary answers one class only, then it is rolled back at its first traffic window', async () => {
    const w = world({ stats: (d) => ({ ...healthyStats(), canary: goodSlot({ classCounts: d.shadow ? goodSlot().classCounts : { angry: 100 } }) }) });
    const { result } = await runPipeline(w);
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason, /class distribution/);
    assert.deepEqual(w.calls.filter((c) => c.startsWith('setTraffic')), ['setTraffic:0:true', 'setTraffic:10:false']);
    assert.ok(w.calls.includes('rollbackService') && w.calls.includes('tagRollback') && !w.calls.includes('promoteChampion'));
  });

  it('when the canary gets too little traffic, then windows are extended and the rollout fails safe', async () => {
    const w = world({ stats: () => ({ ...healthyStats(), shadow: { compared: 3, agreement: 1, errors: 0 } }) });
    const { result } = await runPipeline(w);
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason, /inconclusive after 2 windows/);
    assert.equal(w.calls.filter((c) => c === 'readStats').length, 2);
  });

  it('when the model misses the accuracy floor, then the pipeline ends refused without deploying', async () => {
    const w = world({ accuracy: 0.1 });
    const { result } = await runPipeline(w);
    assert.equal(result.outcome, 'refused');
    assert.match(result.reason, /floor/);
    assert.ok(!w.calls.some((c) => c.startsWith('loadModel')));
    assert.ok(!w.calls.some((c) => c.startsWith('closePipelineRun')), 'a refused model is an outcome: register ended its run FINISHED');
  });

  it('when the trainer refuses its config, then the failure chain names BadInput, no retry happens, and the stage and CLI say why', async () => {
    const w = world({ trainFailure: 'bad_input' });
    const { failure, progress } = await settlePipeline(w);
    assert.ok(failure instanceof WorkflowFailedError);
    assert.ok(failure.cause instanceof ActivityFailure);
    assert.ok(failure.cause.cause instanceof ApplicationFailure);
    assert.equal(failure.cause.cause.type, 'BadInput');
    assert.equal(w.calls.filter((c) => c === 'train').length, 1);
    // What `ferops train` prints, and what `ferops status` and the progress query show afterwards.
    assert.equal(describeFailure(failure), 'Workflow execution failed in train: bad_config: train.epochs must be >= 1');
    assert.deepEqual(progress.stages.at(-1), { stage: 'train', status: 'failed', detail: 'bad_config: train.epochs must be >= 1' });
    assert.equal(w.calls.at(-1), 'closePipelineRun:failed:bad_config: train.epochs must be >= 1', 'its MLflow run ends FAILED, saying why');
  });

  it('when `ferops status` is given no id, then the latest pipelines are listed newest first: how each ended, the stage of one running', async () => {
    const refused = await settlePipeline(world({ accuracy: 0.1 }));
    const failed = await settlePipeline(world({ trainFailure: 'bad_input' }));
    const taskQueue = `tq-${randomUUID()}`;
    const worker = await env.createWorker({ taskQueue, activities: fakeActivities(world({ ingestOutages: 100 })) });
    await worker.runUntil(async () => {
      const { handle: running } = await startOrAttach(env.client, taskQueue, { ...FAST, trainingTaskQueue: taskQueue }, `test-${randomUUID()}`);
      const ids = [running.workflowId, failed.handle.workflowId, refused.handle.workflowId];
      let rows: WorkflowRow[] = [];
      // Temporal's visibility store is written after the history: wait for it to show all three as they are now.
      for (let i = 0; i < 100; i++) {
        rows = (await listWorkflows(env.client, 1000)).filter((r) => ids.includes(r.id));
        if (rows.length === 3 && rows[0].stage === 'ingest') break;
        await sleep(100);
      }
      assert.deepEqual(rows.map((r) => r.id), ids, 'newest first');
      assert.deepEqual(rows.map((r) => [r.kind, r.status, r.result]), [
        ['pipeline', 'running', 'in ingest'],
        ['pipeline', 'failed', 'train: bad_config: train.epochs must be >= 1'],
        ['pipeline', 'completed', `refused: ${refused.result!.reason}`],
      ]);
      const table = workflowTable(rows, 200);
      assert.match(table[0], /^workflow id +kind +status +started \(UTC\) +took +version +result$/);
      assert.match(table[3], new RegExp(`^${refused.handle.workflowId} +pipeline +completed +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d +\\d+s +- +refused: `));
      assert.equal((await listWorkflows(env.client, 2)).length, 2, 'at most --limit rows');
      await running.cancel();
    });
  });

  it('when the pipeline is cancelled before it trains, then its MLflow run is ended as cancelled', async () => {
    const w = world({ ingestOutages: 100 });
    const { failure, progress } = await settlePipeline(w, FAST, async (h) => {
      for (let i = 0; i < 100 && !w.calls.includes('ingest'); i++) await sleep(100);
      await h.cancel();
    });
    assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof CancelledFailure, String(failure));
    assert.deepEqual([progress.stages.at(-1)?.stage, progress.stages.at(-1)?.status], ['ingest', 'cancelled']);
    assert.match(w.calls.at(-1) ?? '', /^closePipelineRun:cancelled:/, w.calls.join(' '));
    assert.ok(!w.calls.includes('train'));
  });

  it('when the pipeline schedules training, then it allows far more attempts than the other stages: each lost worker costs one', async () => {
    const { handle } = await runPipeline(world());
    const { events } = await handle.fetchHistory();
    const attempts = Object.fromEntries(events!.flatMap((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      return a ? [[a.activityType!.name!, a.retryPolicy!.maximumAttempts]] : [];
    }));
    assert.deepEqual([attempts.ingest, attempts.train, attempts.evaluate], [6, 20, 6], 'a long training outlives many worker deploys');
  });

  it('when an activity is retrying after a failure, then the live progress says which attempt and why', async () => {
    const w = world({ ingestOutages: 2 });
    const seen: string[] = [];
    const { result } = await runPipeline(w, FAST, async (h) => {
      for (let i = 0; i < 100 && seen.length === 0; i++, await sleep(100)) {
        const p = await readProgress(h);
        if (p.stalled) seen.push(renderProgress(p));
      }
    });
    assert.equal(result.outcome, 'promoted', 'the pipeline waits the outage out');
    assert.match(seen[0] ?? '', /ingest +ingest attempt 2, last failure: MLflow unreachable: connect ECONNREFUSED/);
  });

  it('when the pipeline is cancelled mid-rollout, then the canary rolls back and the stage reads cancelled', async () => {
    const w = world();
    const slow: PipelineInputOverrides = { rollout: { ...FAST.rollout, windowSeconds: 30 } };
    const { failure, progress } = await settlePipeline(w, slow, async (h) => {
      await waitForRolloutPhase(h, 'traffic');
      await h.cancel();
    });
    assert.ok(failure instanceof WorkflowFailedError);
    assert.ok(failure.cause instanceof CancelledFailure);
    assert.deepEqual(w.calls.slice(-2), ['rollbackService', 'tagRollback']);
    assert.equal(w.deployment.canaryWeight, 0);
    const last = progress.stages.at(-1)!;
    assert.deepEqual([last.stage, last.status], ['rollout', 'cancelled'], JSON.stringify(last));
    assert.ok(!w.calls.includes('promoteChampion'));
  });

  it('when the pipeline is terminated mid-rollout, then its rollout is cancelled with it and rolls the canary back at once', async () => {
    const w = world();
    const taskQueue = `tq-${randomUUID()}`;
    const worker = await env.createWorker({ taskQueue, activities: fakeActivities(w) });
    const slow: PipelineInputOverrides = { rollout: { ...FAST.rollout, windowSeconds: 30 }, trainingTaskQueue: taskQueue };
    await worker.runUntil(async () => {
      const { handle } = await startOrAttach(env.client, taskQueue, slow, `test-${randomUUID()}`);
      await waitForRolloutPhase(handle, 'traffic');
      await handle.terminate('operator: stuck');
      const rollout = env.client.workflow.getHandle(`${handle.workflowId}/rollout`);
      await assert.rejects(rollout.result(), (e: unknown) => e instanceof WorkflowFailedError && e.cause instanceof CancelledFailure);
      // The workflow's own progress still says rollout running (it ran no code as it was terminated); readers say why.
      const live = await readProgress(handle);
      assert.equal(live.status, 'TERMINATED');
      assert.deepEqual(live.progress?.stages.map((s) => s.status), ['completed', 'completed', 'completed', 'completed', 'terminated']);
    });
    assert.deepEqual(w.calls.slice(-2), ['rollbackService', 'tagRollback']);
    assert.equal(w.deployment.canaryWeight, 0);
  });

  // As the Temporal UI or any client starts them: with whatever JSON it was given, past the CLI's own check.
  for (const [name, workflow, input, problem] of [
    ['a string for the steps (the rollout hung with the canary loaded)', 'trainingPipeline', { rollout: { steps: '50' } }, 'rollout.steps: Expected array, received string'],
    ['a negative maxExtensions (the candidate was promoted unanalysed)', 'trainingPipeline', { rollout: { maxExtensions: -1 } }, 'rollout.maxExtensions: Number must be greater than or equal to 0'],
    ['no input object', 'trainingPipeline', null, 'expected an object of overrides, got null'],
    ['a rollout with no version', 'canaryRollout', { modelName: 'm', rollout: withDefaults().rollout }, 'version: Required'],
  ] as const) {
    it(`when ${name} is started directly, then it fails at once as BadInput naming the problem, and nothing runs`, async () => {
      const w = world();
      const taskQueue = `tq-${randomUUID()}`;
      const worker = await env.createWorker({ taskQueue, activities: fakeActivities(w) });
      await worker.runUntil(async () => {
        const handle = await env.client.workflow.start(workflow, { taskQueue, workflowId: `bad-${randomUUID()}`, args: [input] });
        await assert.rejects(handle.result(), (e: unknown) => {
          assert.ok(e instanceof WorkflowFailedError && e.cause instanceof ApplicationFailure);
          assert.equal(e.cause.type, 'BadInput');
          assert.equal(e.cause.message, `bad_input: ${problem}`);
          return true;
        });
      });
      assert.deepEqual(w.calls, []);
    });
  }

  it('when the CLI is given a bad input, then it refuses before starting any workflow', async () => {
    const id = `bad-cli-${randomUUID()}`;
    await assert.rejects(startOrAttach(env.client, 'unused', { gate: { minAccuracy: 5 } }, id), /^Error: bad pipeline input: gate.minAccuracy: Number must be less than or equal to 1$/);
    await assert.rejects(env.client.workflow.getHandle(id).describe(), /not found/);
  });

  it('when an operator pauses, then no window is analysed until resume', async () => {
    const w = world();
    // A 5 s shadow window, so the pause lands inside it however slowly the host answers the query and the signal.
    const { result } = await runPipeline(w, { rollout: { ...FAST.rollout, shadowSeconds: 5 } }, async (h) => {
      await waitForRolloutPhase(h, 'shadow');
      const rollout = env.client.workflow.getHandle(`${h.workflowId}/rollout`);
      await rollout.signal(pauseSignal);
      await sleep(2500);
      assert.equal(w.calls.filter((c) => c === 'readStats').length, 0, 'paused: no analysis');
      await rollout.signal(resumeSignal);
    });
    assert.equal(result.outcome, 'promoted');
  });

  it('when an operator aborts mid-rollout, then traffic returns to stable and the reason is recorded', async () => {
    const w = world();
    // A 5 s shadow window, so the pause lands inside it however slowly the host answers the query and the signal.
    const { result } = await runPipeline(w, { rollout: { ...FAST.rollout, shadowSeconds: 5 } }, async (h) => {
      await waitForRolloutPhase(h, 'shadow');
      await env.client.workflow.getHandle(`${h.workflowId}/rollout`).signal(abortSignal, 'bad gut feeling');
    });
    assert.equal(result.outcome, 'rolled_back');
    assert.equal(result.reason, 'bad gut feeling');
    assert.ok(w.calls.includes('rollbackService'));
  });

  it('when the abort signal carries JSON other than a string (as the Temporal UI sends it), then the rollback still ends with a text reason', async () => {
    for (const [payload, reason] of [[{ reason: 'typed in the UI' }, 'typed in the UI'], [{ why: 1 }, 'aborted by operator'], [42, 'aborted by operator']] as const) {
      const w = world();
      const { result } = await runPipeline(w, { rollout: { ...FAST.rollout, shadowSeconds: 5 } }, async (h) => {
        await waitForRolloutPhase(h, 'shadow');
        await env.client.workflow.getHandle(`${h.workflowId}/rollout`).signal('abort', payload);
      });
      assert.deepEqual([result.outcome, result.reason], ['rolled_back', reason]);
      assert.deepEqual(w.calls.slice(-2), ['rollbackService', 'tagRollback'], 'tagged once: not retried');
    }
  });

  it('when approval is required, then traffic waits for approve, and a reject rolls back without loading', async () => {
    const approval = { rollout: { ...FAST.rollout, approval: 'required' as const } };
    const approved = await runPipeline(world(), approval, async (h) => {
      await waitForRolloutPhase(h, 'awaiting_approval');
      const rollout = env.client.workflow.getHandle(`${h.workflowId}/rollout`);
      await assert.rejects(rollout.executeUpdate(approveUpdate, { args: [{ approved: true, by: '' }] }), (e: Error) => {
        assert.ok(e instanceof WorkflowUpdateFailedError);
        assert.match(String((e.cause as Error)?.message), /"by"/);
        return true;
      });
      // As the Temporal UI could send it: a string "false" must not approve (it is truthy).
      await assert.rejects(rollout.executeUpdate('approve', { args: [{ approved: 'false', by: 'mallory' }] }), (e: Error) => {
        assert.ok(e instanceof WorkflowUpdateFailedError);
        assert.equal((e.cause as Error)?.message, 'approval needs "approved": true or false, got "false"');
        return true;
      });
      assert.equal((await rollout.query(rolloutStateQuery)).phase, 'awaiting_approval');
      assert.equal(await rollout.executeUpdate(approveUpdate, { args: [{ approved: true, by: 'alice' }] }), 'approved');
    });
    assert.equal(approved.result.outcome, 'promoted');
    const w = world();
    const rejected = await runPipeline(w, approval, async (h) => {
      await waitForRolloutPhase(h, 'awaiting_approval');
      await env.client.workflow.getHandle(`${h.workflowId}/rollout`).executeUpdate(approveUpdate, { args: [{ approved: false, by: 'bob' }] });
    });
    assert.equal(rejected.result.outcome, 'rolled_back');
    assert.equal(rejected.result.reason, 'rejected by bob');
    assert.ok(!w.calls.some((c) => c.startsWith('loadModel')));
  });

  it('when an operator acts through `ferops rollout`, then a running rollout gets it, and otherwise it says why not', async () => {
    const as = { by: 'carol' };
    const approval = { rollout: { ...FAST.rollout, approval: 'required' as const } };
    const { result, handle } = await runPipeline(world(), approval, async (h) => {
      await waitForRolloutPhase(h, 'awaiting_approval');
      assert.equal(await rolloutAction(env.client, 'approve', h.workflowId, as), 'approved');
    });
    assert.equal(result.outcome, 'promoted');
    const id = handle.workflowId;
    await assert.rejects(rolloutAction(env.client, 'pause', id, as), { message: `rollout ${id}/rollout has ended (COMPLETED): pause not sent; see: ferops rollout status ${id}` });

    const refused = (await runPipeline(world({ accuracy: 0.1 }))).handle.workflowId;
    await assert.rejects(rolloutAction(env.client, 'abort', refused, as), { message: `pipeline ${refused} ended (COMPLETED) without a rollout; see: ferops status ${refused}` });
    await settlePipeline(world({ ingestOutages: 100 }), FAST, async (h) => {
      await assert.rejects(rolloutAction(env.client, 'status', h.workflowId, as), { message: `pipeline ${h.workflowId} has not reached its rollout yet; see: ferops status ${h.workflowId}` });
      await h.cancel();
    });
    await assert.rejects(rolloutAction(env.client, 'status', 'no-such-pipeline', as), { message: 'no pipeline or rollout named no-such-pipeline' });
  });

  it('when the same pipeline is started twice, then the second start attaches to the first run', async () => {
    const taskQueue = `tq-${randomUUID()}`;
    const w = world({ deployment: { canaryWeight: 0, shadow: false } });
    const worker = await env.createWorker({ taskQueue, activities: fakeActivities(w) });
    await worker.runUntil(async () => {
      const id = `same-${randomUUID()}`;
      const input = { trainingTaskQueue: taskQueue };
      const [a, b] = await Promise.all([startOrAttach(env.client, taskQueue, input, id), startOrAttach(env.client, taskQueue, input, id)]);
      assert.deepEqual([a.attached, b.attached].sort(), [false, true]);
      await a.handle.result();
      const again = await startOrAttach(env.client, taskQueue, input, id);
      assert.equal(again.attached, true, 'a finished pipeline is not re-run either');
      assert.equal((await again.handle.describe()).runId, (await a.handle.describe()).runId);
    });
    assert.equal(w.calls.filter((c) => c === 'train').length, 1);
    assert.deepEqual(withDefaults({}).rollout.steps, [5, 25, 50, 100]);
  });

  it('when two pipelines of one model reach rollout together, then the second waits its turn, says so in its progress, and loads only after the first ends', async () => {
    const taskQueue = `tq-${randomUUID()}`;
    const w = world();
    const worker = await env.createWorker({ taskQueue, activities: fakeActivities(w) });
    await worker.runUntil(async () => {
      const input = (approval: 'none' | 'required') => ({ ...FAST, rollout: { ...FAST.rollout, approval }, trainingTaskQueue: taskQueue });
      const first = (await startOrAttach(env.client, taskQueue, input('required'), `first-${randomUUID()}`)).handle;
      await waitForRolloutPhase(first, 'awaiting_approval');
      const second = (await startOrAttach(env.client, taskQueue, input('none'), `second-${randomUUID()}`)).handle;
      const cancelled = (await startOrAttach(env.client, taskQueue, input('none'), `cancelled-${randomUUID()}`)).handle;
      await Promise.all([waitForRolloutPhase(second, 'waiting_for_deployment'), waitForRolloutPhase(cancelled, 'waiting_for_deployment')]);
      assert.match((await readProgress(second)).stalled ?? '', /^rollout waiting its turn: another rollout of this model holds deployment-lease\/ferops-fer$/);
      assert.equal(w.calls.filter((c) => c.startsWith('deploymentState')).length, 1, 'the waiters have not read the deployment');
      // Cancelled while waiting (the Temporal UI's Cancel): it ends cancelled, and the line moves on without it.
      await cancelled.cancel();
      await assert.rejects(cancelled.result(), (e: Error) => e instanceof WorkflowFailedError && e.cause instanceof CancelledFailure);
      assert.deepEqual((await cancelled.query(progressQuery)).stages.at(-1)?.status, 'cancelled');
      await env.client.workflow.getHandle(`${first.workflowId}/rollout`).executeUpdate(approveUpdate, { args: [{ approved: false, by: 'bob' }] });
      assert.equal((await first.result()).outcome, 'rolled_back');
      assert.equal((await second.result()).outcome, 'promoted');
    });
    assert.equal(w.calls.filter((c) => c.startsWith('loadModel')).length, 1, 'only the second loaded a canary');
    assert.equal(w.calls.filter((c) => c.startsWith('deploymentState')).length, 2, 'the cancelled waiter never read the deployment');
  });

  it('when an operator terminates the deployment lease itself, then its holder still ends and the next rollout can take it', async () => {
    const approval = { ...FAST, rollout: { ...FAST.rollout, approval: 'required' as const } };
    for (const run of ['lease terminated', 'next rollout']) {
      const { result } = await runPipeline(world(), approval, async (h) => {
        await waitForRolloutPhase(h, 'awaiting_approval');
        if (run === 'lease terminated') await env.client.workflow.getHandle(deploymentLeaseId('ferops-fer')).terminate('breaking the lock');
        await env.client.workflow.getHandle(`${h.workflowId}/rollout`).executeUpdate(approveUpdate, { args: [{ approved: false, by: 'bob' }] });
        // Bounded, so that a rollout which does not complete fails here (before the fix it failed on the missing lease).
        const rollout = env.client.workflow.getHandle(`${h.workflowId}/rollout`);
        for (let i = 0; i < 100 && (await rollout.describe()).status.name === 'RUNNING'; i++) await sleep(100);
        assert.equal((await rollout.describe()).status.name, 'COMPLETED', run);
      });
      assert.deepEqual([result.outcome, result.reason], ['rolled_back', 'rejected by bob'], run);
    }
  });
});
