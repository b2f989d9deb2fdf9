import type { MlflowClient, ModelVersion } from '../../lib/mlflow';
import { MODEL_SHA256_TAG } from '../../lib/onnx/registry-cache';
import { DATASET_HASH_TAG, RUN_KEY_TAG, WORKFLOW_ID_TAG, filterLiteral } from '../tracking/run-key';
import { applyGate, type GateConfig, type GateNumbers } from './gate';
import type { LoggedModelRef } from './log-model';

export const CHALLENGER = 'challenger';
/** Read back wherever a registry version is downloaded (lib/onnx/registry-cache.ts) to verify model.onnx. */
export { MODEL_SHA256_TAG };

export interface RegisterModelInput {
  client: MlflowClient;
  name: string;
  runId: string;
  /** Deterministic key of this registration (e.g. `<workflowId>/register`): a retry finds its version. */
  runKey: string;
  modelSource: Pick<LoggedModelRef, 'modelUri' | 'modelId'> & { modelSha256?: string };
  /** The candidate's evaluation: accuracy and the test faces it was measured on (the full report is logged by evaluate). */
  evaluation: { accuracy: number; count?: number; champion?: { accuracy: number } };
  /** The current champion's numbers, when there is one (else `evaluation.champion` is used). */
  champion?: { version?: string; accuracy: number };
  gate: GateConfig;
  datasetHash?: string;
  workflowId?: string;
}

export interface RegisterModelResult {
  decision: 'registered' | 'refused';
  version?: string;
  reason: string;
  numbers: GateNumbers;
}

/**
 * Gates the candidate; if it passes, registers it (idempotently), waits for READY and points `challenger` at it.
 * The decision and its reason are tagged on the run either way, so the MLflow UI explains every outcome.
 */
export async function registerModel(input: RegisterModelInput): Promise<RegisterModelResult> {
  const { client, name } = input;
  const champion = input.champion ?? input.evaluation.champion;
  const gate = applyGate(input.evaluation.accuracy, input.gate, champion, input.evaluation.count);
  await client.setTags(input.runId, { 'ferops.gate': gate.pass ? 'passed' : 'refused', 'ferops.gate_reason': gate.reason });
  if (!gate.pass) return { decision: 'refused', reason: gate.reason, numbers: gate.numbers };

  await client.createRegisteredModel(name);
  let mv = await findVersion(input);
  if (!mv) {
    const made = await createVersion(input);
    mv = (await findVersion(input)) ?? made;
  }
  await client.waitReady(name, mv.version);
  await client.setAlias(name, CHALLENGER, mv.version);
  return { decision: 'registered', version: mv.version, reason: gate.reason, numbers: gate.numbers };
}

/** A version this registration already made: by run key tag first, else by run id and source. */
async function findVersion(input: RegisterModelInput): Promise<ModelVersion | null> {
  const { client, name } = input;
  const byKey = await client.searchModelVersions(`name = ${filterLiteral(name)} and tags.\`${RUN_KEY_TAG}\` = ${filterLiteral(input.runKey)}`);
  // Lowest version first: if a create request was retried after a lost answer, every attempt settles on one.
  if (byKey.length) return byKey.sort((a, b) => Number(a.version) - Number(b.version))[0];
  // The tag is set at creation, but a version created by another tool for the same run and model also counts.
  const byRun = await client.searchModelVersions(`name = ${filterLiteral(name)} and run_id = ${filterLiteral(input.runId)}`);
  return byRun.find((v) => v.source === input.modelSource.modelUri) ?? null;
}

function createVersion(input: RegisterModelInput): Promise<ModelVersion> {
  const tags: Record<string, string> = { [RUN_KEY_TAG]: input.runKey };
  if (input.datasetHash) tags[DATASET_HASH_TAG] = input.datasetHash;
  if (input.workflowId) tags[WORKFLOW_ID_TAG] = input.workflowId;
  if (input.modelSource.modelSha256) tags[MODEL_SHA256_TAG] = input.modelSource.modelSha256;
  tags['ferops.accuracy'] = String(input.evaluation.accuracy);
  return input.client.createModelVersion({
    name: input.name,
    source: input.modelSource.modelUri,
    modelId: input.modelSource.modelId,
    runId: input.runId,
    tags,
  });
}
