import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { safeName } from '../../activities/train';
import { MlflowClient } from '../../lib/mlflow';
import type { PipelineInputOverrides } from '../../lib/pipeline-input';
import { TASK_QUEUE } from '../../lib/temporal-constants';
import { startStack, type Stack } from '../../infra/stack';
import { startOrAttach, type PipelineHandle } from '../../services/cli/pipeline-runner';
import { doubleStart, temporalRestart, truncatedCheckpoint } from '../chaos/pipeline-scenarios';

// Faults against the real embedded stack (Temporal, MLflow, worker, inference, the Python trainer): a crash in the
// middle of training must cost only the epochs since the last checkpoint, and duplicate nothing.
const EPOCHS = 5;
const SMALL: PipelineInputOverrides = {
  dataset: { kind: 'synthetic', size: 1200, seed: 11 },
  trainer: { train: { epochs: EPOCHS, early_stop_patience: 0 }, export: { int8: false } },
  gate: { minAccuracy: 0, maxDropVsChampion: 1 },
  rollout: { shadowSeconds: 0, steps: [100], windowSeconds: 1, maxExtensions: 0 },
};

let stack: Stack;
let client: Client;
let dataDir: string;
before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'ferops-chaos-'));
  stack = await startStack({ dataDir, ports: { temporal: 0, temporalUi: 0, mlflow: 0, inference: 0 }, ui: false, modelName: 'ferops-fer' });
  client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });
}, { timeout: 300_000 });
after(async () => {
  await client?.connection.close();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The trainer's events of every attempt, as the train activity records them beside the checkpoints. */
function trainerEvents(workflowId: string): { event: string; epoch?: number; resumed_from_epoch?: number | null }[] {
  const file = join(dataDir, 'runs', safeName(workflowId), 'train', 'events.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
const trainerStarts = (workflowId: string) => trainerEvents(workflowId).filter((e) => e.event === 'start').map((e) => e.resumed_from_epoch);

/** Waits until the trainer has durably written the checkpoint of `minEpoch` (it trains on while we look). */
async function waitForCheckpoint(handle: PipelineHandle, minEpoch: number): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (trainerEvents(handle.workflowId).some((e) => e.event === 'checkpoint' && (e.epoch ?? 0) >= minEpoch)) return;
    await sleep(100);
  }
  throw new Error(`no checkpoint of epoch ${minEpoch} within 5 minutes (status ${(await handle.describe()).status.name})`);
}

async function assertNothingDuplicated(runId: string): Promise<void> {
  const mlflow = new MlflowClient({ baseUrl: stack.mlflowUrl });
  const steps = (await mlflow.getMetricHistory(runId, 'val_accuracy')).map((m) => m.step).sort((a, b) => a - b);
  assert.deepEqual(steps, Array.from({ length: EPOCHS }, (_, i) => i + 1), 'every epoch exactly once');
  const versions = await mlflow.searchModelVersions(`run_id='${runId}'`);
  assert.equal(versions.length, 1, 'one model version');
  const experiment = await mlflow.getExperimentByName('ferops');
  const runs = await mlflow.searchRuns({ experimentIds: [experiment!.experiment_id], filter: `tags.\`ferops.run_key\` = '${(await mlflow.getRun(runId)).data.tags!.find((t) => t.key === 'ferops.run_key')!.value}'` });
  assert.equal(runs.length, 1, 'one MLflow run');
}

describe('durability', { timeout: 900_000 }, () => {
  it('when the worker is killed with SIGKILL mid-training, then the pipeline completes and the trainer resumes from its checkpoint', async (t) => {
    const { handle } = await startOrAttach(client, TASK_QUEUE, SMALL, `chaos-worker-${randomUUID()}`);
    await waitForCheckpoint(handle, 2);
    await stack.processes.worker.kill();
    await stack.restart('worker');
    const result = await handle.result();
    assert.ok(result.modelVersion, `registered: ${result.reason}`);
    const starts = trainerStarts(handle.workflowId);
    assert.equal(starts[0], null, 'first attempt starts fresh');
    assert.ok(starts.length >= 2 && (starts.at(-1) ?? 0) >= 2, `a later attempt resumed from epoch >= 2: ${JSON.stringify(starts)}`);
    await assertNothingDuplicated(result.mlflowRunId);
    t.diagnostic(`observed: trainer starts (resumed_from_epoch) ${JSON.stringify(starts)}`);
  });

  it('when only the Python trainer is killed with SIGKILL, then the activity retries and resumes the same way', async (t) => {
    const { handle } = await startOrAttach(client, TASK_QUEUE, { ...SMALL, dataset: { kind: 'synthetic', size: 1200, seed: 12 } }, `chaos-trainer-${randomUUID()}`);
    await waitForCheckpoint(handle, 2);
    const pidFile = join(dataDir, 'runs', safeName(handle.workflowId), 'train', 'trainer.pid');
    assert.ok(existsSync(pidFile));
    process.kill(-Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    const result = await handle.result();
    assert.ok(result.modelVersion, `registered: ${result.reason}`);
    const starts = trainerStarts(handle.workflowId);
    assert.ok(starts.length >= 2 && (starts.at(-1) ?? 0) >= 2, `resumed: ${JSON.stringify(starts)}`);
    await assertNothingDuplicated(result.mlflowRunId);
    t.diagnostic(`observed: trainer starts (resumed_from_epoch) ${JSON.stringify(starts)}`);
  });

  // The quick ones of the chaos suite (test/chaos), on this file's stack: each is one short pipeline.
  const scope = () => ({ stack, client, dataDir });
  it('when the last checkpoint is truncated after a crash, then it is set aside as .corrupt and training starts clean', (t) => truncatedCheckpoint(scope(), t));
  it('when the same pipeline is started twice at once, then it runs once', (t) => doubleStart(scope(), t));
  it('when the Temporal dev server restarts on the same database mid-pipeline, then the workflow completes', (t) => temporalRestart(scope(), t));
});
