import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MlflowClient } from '../../lib/mlflow';
import type { PipelineRunContext } from '../pipeline/pipeline-run';
import { markPipelineRun } from '../pipeline/run-status';
import { writeCurvesPng, type EpochPoint } from '../train/curves-png';
import type { RegisterInput, RegisterOutput } from '../types';
import { logModel } from './log-model';
import { registerModel } from './register-model';

/**
 * register: the trainer's effective config as run params, the model as an MLflow model (onnx + pyfunc), then the
 * gate, and a registry version with alias `challenger` only if the gate passes. Ends the pipeline's run.
 */
export function createRegisterActivity(run: PipelineRunContext) {
  return async function register(input: RegisterInput): Promise<RegisterOutput> {
    const { mlflow } = run;
    const runId = input.mlflowRunId;
    const effective = join(input.modelDir, 'config.json');
    if (existsSync(effective)) await mlflow.logParams(runId, flatten(JSON.parse(readFileSync(effective, 'utf8')), 'trainer'));
    const pipelineRun = await mlflow.getRun(runId);
    const { experiment_id: experimentId, artifact_uri: artifactUri } = pipelineRun.info;
    await uploadTrainingCurves(mlflow, artifactUri, input.modelDir);
    const ref = await logModel({ client: mlflow, runId, experimentId, modelDir: input.modelDir, name: input.modelName });
    const champion = input.evaluation.champion;
    const result = await registerModel({
      client: mlflow,
      name: input.modelName,
      runId,
      runKey: `${input.workflowId}/register`,
      modelSource: ref,
      evaluation: { accuracy: input.evaluation.accuracy, count: input.evaluation.count },
      champion: champion ? { version: champion.version, accuracy: champion.accuracy } : undefined,
      gate: input.gate,
      datasetHash: input.datasetId,
      workflowId: input.workflowId,
    });
    await markPipelineRun(mlflow, pipelineRun, 'FINISHED');
    return { decision: result.decision, version: result.version, reason: result.reason };
  };
}

/** The trainer's per-epoch history (model/metrics.json) drawn as training/curves.png on the run. */
async function uploadTrainingCurves(mlflow: MlflowClient, artifactUri: string, modelDir: string): Promise<void> {
  const metricsFile = join(modelDir, 'metrics.json');
  if (!existsSync(metricsFile)) return;
  const { history } = JSON.parse(readFileSync(metricsFile, 'utf8')) as { history: EpochPoint[] };
  if (!history?.length) return;
  const png = join(dirname(modelDir), 'curves.png');
  await writeCurvesPng(history, `training curves (${history.length} epochs)`, png);
  await mlflow.uploadFile(artifactUri, png, 'training/curves.png');
}

/** {model: {base: 'tiny'}} -> {'trainer.model.base': 'tiny'}: MLflow params are flat strings. */
export function flatten(obj: Record<string, unknown>, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = `${prefix}.${k}`;
    if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flatten(v as Record<string, unknown>, key));
    else out[key] = JSON.stringify(v ?? null).replace(/^"|"$/g, '');
  }
  return out;
}
