import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { MlflowClient } from '../../lib/mlflow';
import { isAlive } from '../../lib/process-identity';
import { TASK_QUEUE } from '../../lib/temporal-constants';
import { readProgress, startOrAttach } from '../../services/cli/pipeline-runner';
import {
  assertNothingDuplicated, CHAOS_STALL_SECONDS, smallPipeline, startChaosStack, trainDir, trainerEvents, waitFor, waitForCheckpoint, type ChaosStack,
} from '../chaos/harness';
import { doubleStart, temporalRestart, truncatedCheckpoint } from '../chaos/pipeline-scenarios';

// Faults against the real embedded stack (Temporal, MLflow, worker, inference, the Python trainer): a crash in the
// middle of training must cost only the epochs since the last checkpoint, and duplicate nothing.
const EPOCHS = 5;

let s: ChaosStack;
before(async () => void (s = await startChaosStack('chaos')), { timeout: 300_000 });
after(async () => await s?.close());

const trainerStarts = (workflowId: string) => trainerEvents(s.dataDir, workflowId).filter((e) => e.event === 'start').map((e) => e.resumed_from_epoch);

describe('durability', { timeout: 1_200_000 }, () => {
  it('when the worker is killed with SIGKILL mid-training, then the pipeline completes and the trainer resumes from its checkpoint', async (t) => {
    const { handle } = await startOrAttach(s.client, TASK_QUEUE, smallPipeline(11, EPOCHS), `chaos-worker-${randomUUID()}`);
    await waitForCheckpoint(s.dataDir, handle.workflowId, 2);
    await s.stack.processes.worker.kill();
    await s.stack.restart('worker');
    const result = await handle.result();
    assert.ok(result.modelVersion, `registered: ${result.reason}`);
    const starts = trainerStarts(handle.workflowId);
    assert.equal(starts[0], null, 'first attempt starts fresh');
    assert.ok(starts.length >= 2 && (starts.at(-1) ?? 0) >= 2, `a later attempt resumed from epoch >= 2: ${JSON.stringify(starts)}`);
    await assertNothingDuplicated(s.stack.mlflowUrl, result.mlflowRunId, EPOCHS);
    t.diagnostic(`observed: trainer starts (resumed_from_epoch) ${JSON.stringify(starts)}`);
  });

  it('when only the Python trainer is killed with SIGKILL, then the activity retries and resumes the same way', async (t) => {
    const { handle } = await startOrAttach(s.client, TASK_QUEUE, smallPipeline(12, EPOCHS), `chaos-trainer-${randomUUID()}`);
    await waitForCheckpoint(s.dataDir, handle.workflowId, 2);
    const pidFile = join(trainDir(s.dataDir, handle.workflowId), 'trainer.pid');
    assert.ok(existsSync(pidFile));
    process.kill(-Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    const result = await handle.result();
    assert.ok(result.modelVersion, `registered: ${result.reason}`);
    const starts = trainerStarts(handle.workflowId);
    assert.ok(starts.length >= 2 && (starts.at(-1) ?? 0) >= 2, `resumed: ${JSON.stringify(starts)}`);
    await assertNothingDuplicated(s.stack.mlflowUrl, result.mlflowRunId, EPOCHS);
    t.diagnostic(`observed: trainer starts (resumed_from_epoch) ${JSON.stringify(starts)}`);
  });

  it('when the trainer hangs mid-training (stopped, silent), then the activity kills it after the stall limit and the retry resumes from its checkpoint', async (t) => {
    const { handle } = await startOrAttach(s.client, TASK_QUEUE, smallPipeline(13, EPOCHS), `chaos-hang-${randomUUID()}`);
    await waitForCheckpoint(s.dataDir, handle.workflowId, 2);
    // SIGSTOP freezes the whole trainer, as a stuck device or file system would: no event, no exit. Its heartbeat,
    // sent by the activity, would go on until the attempt's 12 h limit.
    const hungAt = Date.now();
    process.kill(-Number(readFileSync(join(trainDir(s.dataDir, handle.workflowId), 'trainer.pid'), 'utf8')), 'SIGSTOP');
    const result = await handle.result();
    assert.ok(result.modelVersion, `registered: ${result.reason}`);
    const starts = trainerStarts(handle.workflowId);
    assert.ok(starts.length === 2 && (starts[1] ?? 0) >= 2, `one retry, resumed from epoch >= 2: ${JSON.stringify(starts)}`);
    const retried = (await handle.fetchHistory()).events!.map((e) => e.activityTaskStartedEventAttributes?.lastFailure?.message).find((m) => m);
    assert.match(retried ?? '', new RegExp(`^trainer stalled: no event for ${CHAOS_STALL_SECONDS} s \\(last: `), 'the retry was for the stall');
    await assertNothingDuplicated(s.stack.mlflowUrl, result.mlflowRunId, EPOCHS);
    t.diagnostic(`observed: "${retried}"; trainer starts ${JSON.stringify(starts)}; pipeline done ${Math.round((Date.now() - hungAt) / 1000)} s after the hang`);
  });

  it('when the worker is stopped (SIGTERM) mid-training, then the trainer checkpoints and exits with it, and the next worker resumes there', async (t) => {
    // Long enough that the training cannot finish within the stop's grace.
    const epochs = 30;
    const { handle } = await startOrAttach(s.client, TASK_QUEUE, smallPipeline(15, epochs), `chaos-sigterm-${randomUUID()}`);
    await waitForCheckpoint(s.dataDir, handle.workflowId, 2);
    const trainerPid = Number(readFileSync(join(trainDir(s.dataDir, handle.workflowId), 'trainer.pid'), 'utf8'));
    const stopping = Date.now();
    // What `stack down`, `docker stop` and Kubernetes do: SIGTERM, then SIGKILL when their grace (here 15 s) is out.
    await s.stack.processes.worker.stop(15_000);
    const stoppedMs = Date.now() - stopping;
    const last = trainerEvents(s.dataDir, handle.workflowId).at(-1);
    const seen = `worker gone after ${stoppedMs} ms; the trainer's last event: ${JSON.stringify(last)}`;
    assert.ok(!isAlive(trainerPid), `no trainer left running without its worker (${seen})`);
    assert.equal(last?.event, 'interrupted', `the trainer checkpointed where it was (${seen})`);
    assert.ok(stoppedMs < 15_000, `the worker exited on its own (${seen})`);
    await s.stack.restart('worker');
    const result = await handle.result();
    assert.ok(result.modelVersion, `registered: ${result.reason}`);
    const starts = trainerStarts(handle.workflowId);
    assert.ok(starts.length === 2 && (starts[1] ?? 0) >= 2, `resumed from the checkpoint of the stop: ${JSON.stringify(starts)}`);
    await assertNothingDuplicated(s.stack.mlflowUrl, result.mlflowRunId, epochs);
    t.diagnostic(`observed: the worker exited ${stoppedMs} ms after SIGTERM; trainer starts ${JSON.stringify(starts)}`);
  });

  it('when the pipeline is cancelled mid-training, then the trainer stops at a checkpoint within seconds and the MLflow run ends KILLED', async (t) => {
    const { handle } = await startOrAttach(s.client, TASK_QUEUE, smallPipeline(14, 1000), `chaos-cancel-${randomUUID()}`);
    await waitForCheckpoint(s.dataDir, handle.workflowId, 1);
    // Right after a heartbeat has reached the server: the moment after which a worker throttling heartbeats to 0.8 of
    // the 30 s heartbeat timeout sends the next one, and with it hears of the cancel, only ~24 s later.
    const seen = (await readProgress(handle)).training?.step;
    await waitFor('a fresh train heartbeat', async () => ((await readProgress(handle)).training?.step ?? seen) !== seen, 60_000);
    await handle.cancel();
    await assert.rejects(handle.result(), (e) => e instanceof WorkflowFailedError && e.cause instanceof CancelledFailure);
    const events = (await handle.fetchHistory()).events!;
    const at = (pick: (e: (typeof events)[number]) => unknown) => Number(events.find(pick)!.eventTime!.seconds) * 1000;
    const cancelMs = at((e) => e.activityTaskCanceledEventAttributes) - at((e) => e.activityTaskCancelRequestedEventAttributes);
    assert.ok(cancelMs <= 15_000, `the train activity ended ${cancelMs} ms after the cancel`);
    assert.equal(trainerEvents(s.dataDir, handle.workflowId).at(-1)?.event, 'interrupted', 'the trainer checkpointed and stopped');
    const mlflow = new MlflowClient({ baseUrl: s.stack.mlflowUrl });
    const experiment = await mlflow.getExperimentByName('ferops');
    const [run] = await mlflow.searchRuns({ experimentIds: [experiment!.experiment_id], filter: `tags.\`ferops.workflow_id\` = '${handle.workflowId}'` });
    assert.equal(run?.info.status, 'KILLED', 'the MLflow UI does not show the run as running for ever');
    t.diagnostic(`observed: the train activity ended ${cancelMs} ms after the cancel (seconds resolution)`);
  });

  // The quick ones of the chaos suite (test/chaos), on this file's stack: each is one short pipeline.
  it('when the last checkpoint is truncated after a crash, then it is set aside as .corrupt and training starts clean', (t) => truncatedCheckpoint(s, t));
  it('when the same pipeline is started twice at once, then it runs once', (t) => doubleStart(s, t));
  it('when the Temporal dev server restarts on the same database mid-pipeline, then the workflow completes', (t) => temporalRestart(s, t));
});
