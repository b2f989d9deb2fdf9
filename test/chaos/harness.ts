import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { safeName } from '../../activities/train';
import { MlflowClient } from '../../lib/mlflow';
import type { PipelineInputOverrides } from '../../lib/pipeline-input';
import { startStack, type Stack } from '../../infra/stack';

// Shared pieces of the chaos suite: one real embedded stack per test file, the trainer's own event record, and
// the "nothing duplicated" check every fault ends with.

export interface ChaosStack {
  stack: Stack;
  client: Client;
  dataDir: string;
  close(): Promise<void>;
}

/** The worker's stall limit on chaos stacks: far above any silence of the tiny trainer, short enough to test. */
export const CHAOS_STALL_SECONDS = 45;

export async function startChaosStack(prefix: string): Promise<ChaosStack> {
  const dataDir = mkdtempSync(join(tmpdir(), `ferops-${prefix}-`));
  let stack: Stack | undefined;
  try {
    stack = await startStack({
      dataDir, ports: { temporal: 0, temporalUi: 0, mlflow: 0, inference: 0 }, ui: false, modelName: 'ferops-fer',
      env: { FEROPS_TRAIN_STALL_SECONDS: String(CHAOS_STALL_SECONDS) },
    });
    const client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });
    const s = stack;
    return {
      stack: s, client, dataDir,
      async close() {
        await client.connection.close().catch(() => undefined);
        await s.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
}

/** Small, fast pipeline input: synthetic data, no int8 export, no gate, one short traffic step. */
export function smallPipeline(seed: number, epochs: number, extra: PipelineInputOverrides = {}): PipelineInputOverrides {
  return {
    dataset: { kind: 'synthetic', size: 1200, seed },
    trainer: { train: { epochs, early_stop_patience: 0 }, export: { int8: false } },
    gate: { minAccuracy: 0, maxDropVsChampion: 1 },
    rollout: { shadowSeconds: 0, steps: [100], windowSeconds: 1, maxExtensions: 0 },
    ...extra,
  };
}

export const trainDir = (dataDir: string, workflowId: string) => join(dataDir, 'runs', safeName(workflowId), 'train');

export type TrainerEventLine = { event: string; epoch?: number; resumed_from_epoch?: number | null; code?: string; message?: string };

/** Every attempt's trainer events, as the train activity appends them beside the checkpoints. */
export function trainerEvents(dataDir: string, workflowId: string): TrainerEventLine[] {
  const file = join(trainDir(dataDir, workflowId), 'events.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as TrainerEventLine);
}

/** Polls `check` every 200 ms until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await check();
    if (v) return v;
    await sleep(200);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export const waitForCheckpoint = (dataDir: string, workflowId: string, minEpoch: number) =>
  waitFor(`the checkpoint of epoch ${minEpoch}`, () => trainerEvents(dataDir, workflowId).some((e) => e.event === 'checkpoint' && (e.epoch ?? 0) >= minEpoch), 300_000);

/** Every metric the train activity logs once per epoch, stepped by epoch (`epochPoints` in activities/train). */
const EPOCH_METRIC_KEYS = ['train_loss', 'val_loss', 'val_accuracy', 'learning_rate', 'images_per_s'] as const;

/** One MLflow run for the pipeline, one model version, and every per-epoch metric exactly once per epoch. */
export async function assertNothingDuplicated(mlflowUrl: string, runId: string, epochs: number): Promise<void> {
  const mlflow = new MlflowClient({ baseUrl: mlflowUrl });
  const expected = Array.from({ length: epochs }, (_, i) => i + 1);
  for (const key of EPOCH_METRIC_KEYS) {
    const steps = (await mlflow.getMetricHistory(runId, key)).map((m) => m.step).sort((a, b) => a - b);
    assert.deepEqual(steps, expected, `${key}: every epoch exactly once`);
  }
  assert.equal((await mlflow.searchModelVersions(`run_id='${runId}'`)).length, 1, 'one model version');
  const runKey = (await mlflow.getRun(runId)).data.tags!.find((t) => t.key === 'ferops.run_key')!.value;
  const experiment = await mlflow.getExperimentByName('ferops');
  const runs = await mlflow.searchRuns({ experimentIds: [experiment!.experiment_id], filter: `tags.\`ferops.run_key\` = '${runKey}'` });
  assert.equal(runs.length, 1, 'one MLflow run');
}

/** `handle.result()` that rides out a Temporal server restart (the long poll fails while it is down). */
export async function resultAcrossRestarts<T>(get: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await get();
    } catch (e) {
      const transient = /unavailable|connect|deadline|ECONNREFUSED|transport/i.test(String((e as Error)?.message ?? e));
      if (!transient || Date.now() > deadline) throw e;
      await sleep(1000);
    }
  }
}
