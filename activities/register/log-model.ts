import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowError, type LoggedModel, type MlflowClient } from '../../lib/mlflow';
import { lockedVersions, mlmodelYaml, pythonEnvYaml, requirementsTxt, type PythonEnvVersions } from './mlmodel';

/** Files of a ferops model directory that travel with the MLflow model (model.onnx is required). */
const REQUIRED = ['model.onnx', 'labels.json', 'preprocess.json'];
const OPTIONAL = ['model.int8.onnx', 'metrics.json'];

export interface LogModelInput {
  client: MlflowClient;
  runId: string;
  experimentId: string;
  modelDir: string;
  /** LoggedModel name (shown in the MLflow UI under the run's "Logged models"). */
  name: string;
  versions?: PythonEnvVersions;
  /** false: skip the LoggedModel flow and log under the run's `model/` directory (what pre-3.x servers get). */
  useLoggedModel?: boolean;
}

export interface LoggedModelRef {
  /** What `createModelVersion` takes as source: `models:/m-...` (3.x LoggedModel) or the run artifact URI. */
  modelUri: string;
  /** The artifact URI holding the files (`mlflow-artifacts:/...`). */
  artifactPath: string;
  modelId?: string;
  /** sha256 of model.onnx; registerModel tags it so the inference service can verify its download. */
  modelSha256: string;
}

/**
 * Uploads a ferops model directory as an MLflow model (onnx + python_function flavours) so that
 * `mlflow.pyfunc.load_model` can run it. Uses the 3.x LoggedModel flow; on a server without it, falls back
 * to the run's `model/` artifact directory. A retry reuses the LoggedModel the first attempt created.
 */
export async function logModel(input: LogModelInput): Promise<LoggedModelRef> {
  const missing = REQUIRED.filter((f) => !existsSync(join(input.modelDir, f)));
  if (missing.length) throw new Error(`model dir ${input.modelDir} lacks ${missing.join(', ')}`);
  const versions = input.versions ?? lockedVersions();
  const { client } = input;
  const modelSha256 = createHash('sha256').update(readFileSync(join(input.modelDir, 'model.onnx'))).digest('hex');

  const lm = input.useLoggedModel === false ? null : await loggedModelFor(input);

  const staging = mkdtempSync(join(tmpdir(), 'ferops-mlmodel-'));
  try {
    for (const f of [...REQUIRED, ...OPTIONAL]) {
      if (existsSync(join(input.modelDir, f))) copyFileSync(join(input.modelDir, f), join(staging, f));
    }
    writeFileSync(join(staging, 'requirements.txt'), requirementsTxt(versions));
    writeFileSync(join(staging, 'python_env.yaml'), pythonEnvYaml(versions));

    if (lm) {
      const modelId = lm.info.model_id;
      writeFileSync(join(staging, 'MLmodel'), mlmodelYaml({ versions, modelId, runId: input.runId, artifactPath: input.name }));
      try {
        await client.uploadDir(lm.info.artifact_uri, staging);
      } catch (e) {
        await client.finalizeLoggedModel(modelId, 'LOGGED_MODEL_UPLOAD_FAILED').catch(() => undefined);
        throw e;
      }
      await client.finalizeLoggedModel(modelId, 'LOGGED_MODEL_READY');
      // Linking twice breaks a unique constraint on the server (400), so a retry checks first.
      const run = await client.getRun(input.runId);
      if (!run.outputs?.model_outputs?.some((o) => o.model_id === modelId)) await client.logOutputs(input.runId, [{ modelId }]);
      return { modelUri: `models:/${modelId}`, artifactPath: lm.info.artifact_uri, modelId, modelSha256 };
    }

    const runUri = (await client.getRun(input.runId)).info.artifact_uri.replace(/\/+$/, '');
    writeFileSync(join(staging, 'MLmodel'), mlmodelYaml({ versions, runId: input.runId, artifactPath: 'model' }));
    await client.uploadDir(runUri, staging, 'model');
    return { modelUri: `${runUri}/model`, artifactPath: `${runUri}/model`, modelSha256 };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The LoggedModel to upload into (an earlier attempt's, or a new one); null when the server has no such API. */
async function loggedModelFor(input: LogModelInput): Promise<LoggedModel | null> {
  try {
    return (
      (await existingLoggedModel(input)) ??
      (await input.client.createLoggedModel({ experimentId: input.experimentId, name: input.name, sourceRunId: input.runId, modelType: 'onnx' }))
    );
  } catch (e) {
    if (e instanceof MlflowError && (e.status === 404 || e.errorCode === 'ENDPOINT_NOT_FOUND')) return null;
    throw e;
  }
}

/** A LoggedModel of this run and name from an earlier attempt; READY or not, its files get (re)uploaded. */
async function existingLoggedModel(input: LogModelInput): Promise<LoggedModel | null> {
  const models = await input.client.searchLoggedModels({ experimentIds: [input.experimentId], maxResults: 1000 });
  return models.find((m) => m.info.source_run_id === input.runId && m.info.name === input.name && m.info.status !== 'LOGGED_MODEL_UPLOAD_FAILED') ?? null;
}
