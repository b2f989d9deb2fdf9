import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TASK_QUEUE } from '../../lib/temporal-constants';
import { pipelineIdFor, startOrAttach } from '../../services/cli/pipeline-runner';
import {
  assertNothingDuplicated, resultAcrossRestarts, smallPipeline, startChaosStack, trainDir, trainerEvents, waitFor,
  waitForCheckpoint, type ChaosStack,
} from './harness';

// Server and disk faults in the middle of a real pipeline (Temporal, MLflow, worker, Python trainer). Each test
// ends with the same invariant: the pipeline completes and nothing is recorded twice.
let s: ChaosStack;
const mounts: string[] = [];
before(async () => void (s = await startChaosStack('chaos-pipeline')), { timeout: 300_000 });
after(async () => {
  for (const m of mounts) spawnQuiet('umount', ['-l', m]);
  await s?.close();
});

function spawnQuiet(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    /* already unmounted */
  }
}

describe('chaos: pipeline faults', { timeout: 1_800_000 }, () => {
  it('when MLflow is stopped for 60 s mid-training and restarted on the same port and dir, then the pipeline completes and every epoch metric is logged exactly once', async () => {
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
  });

  it('when the Temporal dev server is restarted on the same database mid-pipeline, then the workflow continues from its history and completes', async () => {
    const epochs = 6;
    const { handle } = await startOrAttach(s.client, TASK_QUEUE, smallPipeline(22, epochs), `chaos-temporal-${randomUUID()}`);
    await waitForCheckpoint(s.dataDir, handle.workflowId, 2);
    await s.stack.restart('temporal');
    const result = await resultAcrossRestarts(() => handle.result(), 600_000);
    assert.ok(result.modelVersion, `registered: ${result.reason}`);
    const history = await handle.fetchHistory();
    const trains = history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'train');
    assert.equal(trains.length, 1, 'the train activity was scheduled once; the restart did not re-run the workflow');
    await assertNothingDuplicated(s.stack.mlflowUrl, result.mlflowRunId, epochs);
  });

  it('when the same pipeline is started twice at once, then it runs once: one workflow, one train activity, one trainer start, one MLflow run', async () => {
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
  });

  it('when the checkpoint disk is full, then the trainer fails with a clear ENOSPC error, and once space frees the retry completes the pipeline', async () => {
    const epochs = 3;
    const id = `chaos-diskfull-${randomUUID()}`;
    const ckptDir = join(trainDir(s.dataDir, id), 'checkpoints');
    mkdirSync(ckptDir, { recursive: true });
    // 64 KiB: far smaller than one checkpoint of the model, so the first write runs out of space.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', ckptDir]);
    mounts.push(ckptDir);
    const { handle } = await startOrAttach(s.client, TASK_QUEUE, smallPipeline(24, epochs), id);
    const failure = await waitFor('the trainer to report the full disk', () => trainerEvents(s.dataDir, id).find((e) => e.event === 'error'), 300_000);
    execFileSync('umount', ['-l', ckptDir]);
    mounts.splice(mounts.indexOf(ckptDir), 1);
    assert.equal(failure.code, 'internal');
    assert.match(failure.message ?? '', /No space left on device/, 'the error names the cause');
    const result = await handle.result();
    assert.ok(result.modelVersion, `registered: ${result.reason}`);
    const starts = trainerEvents(s.dataDir, id).filter((e) => e.event === 'start').map((e) => e.resumed_from_epoch);
    assert.ok(starts.every((r) => r === null), `no attempt resumed from a checkpoint the full disk could have half-written: ${JSON.stringify(starts)}`);
    await assertNothingDuplicated(s.stack.mlflowUrl, result.mlflowRunId, epochs);
  });

  it('when last.pt is truncated after a crash, then it is never resumed from: the activity sets it aside as .corrupt and training starts clean', async () => {
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
  });
});
