import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { TASK_QUEUE } from '../../lib/temporal-constants';
import { pipelineIdFor, startOrAttach } from '../../services/cli/pipeline-runner';
import type { trainingPipeline } from '../../workflows';
import {
  assertNothingDuplicated, resultAcrossRestarts, smallPipeline, trainDir, trainerEvents, waitFor, waitForCheckpoint,
  type ChaosStack,
} from './harness';

// Server and disk faults in the middle of a real pipeline (Temporal, MLflow, worker, Python trainer), written as
// functions of a running stack so that the full chaos suite and the quick durability set run the same scenarios.
// Each ends with the same invariant: the pipeline completes and nothing is recorded twice.

/** What a scenario reports besides its asserts (node:test's TestContext fits). */
export interface Observer { diagnostic(message: string): void }
export type Scope = Pick<ChaosStack, 'stack' | 'client' | 'dataDir'>;

const startsOf = (s: Scope, id: string) => trainerEvents(s.dataDir, id).filter((e) => e.event === 'start').map((e) => e.resumed_from_epoch);

/** when MLflow is stopped for 60 s mid-training and restarted on the same port and dir, then the pipeline completes and every epoch metric is logged exactly once */
export async function mlflowOutage(s: Scope, t: Observer): Promise<void> {
  const epochs = 8;
  const { handle } = await startOrAttach(s.client, TASK_QUEUE, smallPipeline(21, epochs), `chaos-mlflow-${randomUUID()}`);
  await waitForCheckpoint(s.dataDir, handle.workflowId, 1);
  const epochsAtStop = trainerEvents(s.dataDir, handle.workflowId).filter((e) => e.event === 'epoch').length;
  await s.stack.processes.mlflow.stop();
  const downAt = Date.now();
  await sleep(60_000);
  // The trainer kept going without MLflow: the outage cost no training time.
  const epochsDuringOutage = trainerEvents(s.dataDir, handle.workflowId).filter((e) => e.event === 'epoch').length;
  await s.stack.restart('mlflow');
  const downFor = Date.now() - downAt;
  const result = await handle.result();
  assert.ok(result.modelVersion, `registered: ${result.reason}`);
  assert.ok(downFor >= 60_000 && epochsDuringOutage > epochsAtStop, `trained through the outage (epochs ${epochsAtStop} -> ${epochsDuringOutage})`);
  await assertNothingDuplicated(s.stack.mlflowUrl, result.mlflowRunId, epochs);
  t.diagnostic(`observed: MLflow down ${Math.round(downFor / 1000)} s; epochs done at stop ${epochsAtStop}, at restart ${epochsDuringOutage}; trainer starts ${JSON.stringify(startsOf(s, handle.workflowId))}`);
}

/** The running train attempt as the server sees it (its last heartbeat), or undefined once none runs. */
async function runningTrainAttempt(handle: WorkflowHandle): Promise<{ heartbeatAt?: number } | undefined> {
  const train = (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'train');
  return train && { heartbeatAt: optionalTsToMs(train.lastHeartbeatTime) };
}

/** when the Temporal dev server is restarted on the same database mid-pipeline, then the workflow continues from its history and completes */
export async function temporalRestart(s: Scope, t: Observer): Promise<void> {
  const epochs = 6;
  const { handle } = await startOrAttach(s.client, TASK_QUEUE, smallPipeline(22, epochs), `chaos-temporal-${randomUUID()}`);
  // The worker sends the attempt's heartbeats at most every 24 s (0.8 x its 30 s heartbeatTimeout) and retries one
  // for 10 s. Restarted just before a heartbeat is due, the server has ~6 s to come back before it times the attempt
  // out and schedules attempt 2; restarted within 10 s after one landed, it has over 15 s. On a fast CPU the whole
  // training can end before the next heartbeat, so the trainer is frozen (SIGSTOP) once it has written a checkpoint:
  // the worker keeps heartbeating for it, and the restart waits for a fresh heartbeat whatever the CPU's speed.
  await waitForCheckpoint(s.dataDir, handle.workflowId, 1);
  const trainerGroup = -Number(readFileSync(join(trainDir(s.dataDir, handle.workflowId), 'trainer.pid'), 'utf8'));
  process.kill(trainerGroup, 'SIGSTOP');
  let beatAt: number, restartAt: number, restartMs: number;
  try {
    beatAt = await waitFor('a heartbeat of the frozen train attempt under 10 s old', async () => {
      const train = await runningTrainAttempt(handle);
      assert.ok(train, `the train attempt is still running while its trainer is frozen: trainer starts ${JSON.stringify(startsOf(s, handle.workflowId))}`);
      return train.heartbeatAt !== undefined && Date.now() - train.heartbeatAt < 10_000 && train.heartbeatAt;
    }, 120_000);
    restartAt = Date.now();
    await s.stack.restart('temporal');
    restartMs = Date.now() - restartAt;
  } finally {
    process.kill(trainerGroup, 'SIGCONT');
  }
  const result = await resultAcrossRestarts(() => handle.result(), 600_000);
  assert.ok(result.modelVersion, `registered: ${result.reason}`);
  const events = (await handle.fetchHistory()).events!;
  const trains = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'train');
  assert.equal(trains.length, 1, 'the train activity was scheduled once; the restart did not re-run the workflow');
  // The started event is written when the activity closes, with the attempt that closed it.
  const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(trains[0].eventId));
  const timing = `restart began ${restartAt - beatAt} ms after the last heartbeat and took ${restartMs} ms`;
  assert.equal(started?.activityTaskStartedEventAttributes?.attempt, 1, `the train activity finished on its first attempt (${timing})`);
  assert.deepEqual(startsOf(s, handle.workflowId), [null], 'one trainer run, never restarted');
  await assertNothingDuplicated(s.stack.mlflowUrl, result.mlflowRunId, epochs);
  t.diagnostic(`observed: restarted during the train attempt, ${timing}; outcome ${result.outcome}; train attempt ${started?.activityTaskStartedEventAttributes?.attempt}; trainer starts ${JSON.stringify(startsOf(s, handle.workflowId))}`);
}

/** when the same pipeline is started twice at once, then it runs once: one workflow, one train activity, one trainer start, one MLflow run */
export async function doubleStart(s: Scope, t: Observer): Promise<void> {
  const epochs = 2;
  const input = smallPipeline(23, epochs);
  const [a, b] = await Promise.all([startOrAttach(s.client, TASK_QUEUE, input), startOrAttach(s.client, TASK_QUEUE, input)]);
  assert.equal(a.handle.workflowId, pipelineIdFor(input));
  assert.equal(b.handle.workflowId, a.handle.workflowId);
  assert.deepEqual([a.attached, b.attached].sort(), [false, true], 'one started it, the other attached');
  const [ra, rb] = await Promise.all([a.handle.result(), b.handle.result()]);
  assert.deepEqual(rb, ra);
  // Starting it again after it finished attaches to the finished one instead of retraining.
  const again = await startOrAttach(s.client, TASK_QUEUE, input);
  assert.equal(again.attached, true);
  const history = await a.handle.fetchHistory();
  assert.equal(history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'train').length, 1);
  assert.equal(trainerEvents(s.dataDir, a.handle.workflowId).filter((e) => e.event === 'start').length, 1, 'one trainer run');
  await assertNothingDuplicated(s.stack.mlflowUrl, ra.mlflowRunId, epochs);
  t.diagnostic(`observed: attached ${JSON.stringify([a.attached, b.attached])}, then ${again.attached} after it finished; outcome ${ra.outcome}`);
}

/** when the checkpoint disk is full, then the trainer fails with a clear ENOSPC error, and once space frees the retry completes the pipeline */
export async function checkpointDiskFull(s: Scope, t: Observer): Promise<void> {
  const epochs = 3;
  const id = `chaos-diskfull-${randomUUID()}`;
  const ckptDir = join(trainDir(s.dataDir, id), 'checkpoints');
  mkdirSync(ckptDir, { recursive: true });
  // 64 KiB: far smaller than one checkpoint of the model, so the first write runs out of space.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', ckptDir]);
  let failure;
  try {
    await startOrAttach(s.client, TASK_QUEUE, smallPipeline(24, epochs), id);
    failure = await waitFor('the trainer to report the full disk', () => trainerEvents(s.dataDir, id).find((e) => e.event === 'error'), 300_000);
  } finally {
    // Space frees up (lazy unmount: a trainer still holding a file there keeps failing and is retried).
    execFileSync('umount', ['-l', ckptDir]);
  }
  const handle = s.client.workflow.getHandle<typeof trainingPipeline>(id);
  assert.equal(failure.code, 'internal');
  assert.match(failure.message ?? '', /No space left on device/, 'the error names the cause');
  const result = await handle.result();
  assert.ok(result.modelVersion, `registered: ${result.reason}`);
  const starts = trainerEvents(s.dataDir, id).filter((e) => e.event === 'start').map((e) => e.resumed_from_epoch);
  assert.ok(starts.every((r) => r === null), `no attempt resumed from a checkpoint the full disk could have half-written: ${JSON.stringify(starts)}`);
  await assertNothingDuplicated(s.stack.mlflowUrl, result.mlflowRunId, epochs);
  t.diagnostic(`observed: "${failure.message}"; trainer starts ${JSON.stringify(starts)}`);
}

/** when last.pt is truncated after a crash, then it is never resumed from: the activity sets it aside as .corrupt and training starts clean */
export async function truncatedCheckpoint(s: Scope, t: Observer): Promise<void> {
  const epochs = 5;
  const id = `chaos-corrupt-${randomUUID()}`;
  const { handle } = await startOrAttach(s.client, TASK_QUEUE, smallPipeline(25, epochs), id);
  await waitForCheckpoint(s.dataDir, id, 2);
  const dir = trainDir(s.dataDir, id);
  const last = join(dir, 'checkpoints', 'last.pt');
  // Kill the trainer and damage its checkpoint in the same tick: the retry (2 s later) finds it truncated.
  process.kill(-Number(readFileSync(join(dir, 'trainer.pid'), 'utf8')), 'SIGKILL');
  truncateSync(last, Math.floor(statSync(last).size / 2));
  const result = await handle.result();
  assert.ok(result.modelVersion, `registered: ${result.reason}`);
  assert.ok(existsSync(`${last}.corrupt`), 'the damaged checkpoint was kept aside for inspection');
  const events = trainerEvents(s.dataDir, id);
  const rejected = events.find((e) => e.event === 'error' && /corrupt checkpoint/.test(e.message ?? ''));
  assert.ok(rejected, 'the trainer refused the damaged checkpoint');
  const starts = events.filter((e) => e.event === 'start').map((e) => e.resumed_from_epoch);
  assert.equal(starts.at(-1), null, `the attempt after the refusal started clean: ${JSON.stringify(starts)}`);
  assert.ok(starts.slice(1).every((r) => r === null), `no attempt resumed from the damaged file: ${JSON.stringify(starts)}`);
  await assertNothingDuplicated(s.stack.mlflowUrl, result.mlflowRunId, epochs);
  t.diagnostic(`observed: "${rejected.message}"; trainer starts ${JSON.stringify(starts)}`);
}
