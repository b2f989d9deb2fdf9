import * as artifacts from './artifacts';
import type { BatchPayload } from './batch';
import * as experiments from './experiments';
import { MlflowHttp } from './http';
import * as loggedModels from './logged-models';
import * as registry from './registry';
import type { RetryOptions } from './retry';
import * as runs from './runs';
import type { ArtifactEntry, DatasetInput, Experiment, LoggedModel, LoggedModelStatus, Metric, ModelVersion, RegisteredModel, Run, RunStatus, Tags } from './types';

export interface MlflowClientOptions {
  /** Tracking server root, e.g. `http://127.0.0.1:5000`. */
  baseUrl: string;
  retry?: RetryOptions;
  /** Per-request timeout for REST calls (artifact transfers get four times as much). */
  requestTimeoutMs?: number;
  /** Where MLFLOW_TRACKING_TOKEN / _USERNAME / _PASSWORD are read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Typed MLflow REST client (tracking, artifacts through the server's proxy, LoggedModels, registry). Every call
 * retries connection errors and 5xx with exponential backoff and jitter; 4xx surface at once as `MlflowError`.
 */
export class MlflowClient {
  readonly http: MlflowHttp;

  constructor(opts: MlflowClientOptions) {
    this.http = new MlflowHttp(opts);
  }

  get baseUrl(): string {
    return this.http.baseUrl;
  }

  // Experiments
  getExperimentByName = (name: string): Promise<Experiment | null> => experiments.getExperimentByName(this.http, name);
  getExperiment = (id: string): Promise<Experiment> => experiments.getExperiment(this.http, id);
  createExperiment = (name: string, tags?: Tags): Promise<string> => experiments.createExperiment(this.http, name, tags);
  getOrCreateExperiment = (name: string, tags?: Tags): Promise<string> => experiments.getOrCreateExperiment(this.http, name, tags);
  deleteExperiment = (id: string): Promise<void> => experiments.deleteExperiment(this.http, id);

  // Runs
  createRun = (o: { experimentId: string; runName?: string; tags?: Tags; startTime?: number }): Promise<Run> => runs.createRun(this.http, o);
  updateRun = (runId: string, status: RunStatus, endTime?: number): Promise<void> => runs.updateRun(this.http, runId, status, endTime);
  getRun = (runId: string): Promise<Run> => runs.getRun(this.http, runId);
  searchRuns = (o: runs.SearchRunsOptions): Promise<Run[]> => runs.searchRuns(this.http, o);
  logBatch = (runId: string, b: Partial<BatchPayload>): Promise<void> => runs.logBatch(this.http, runId, b);
  logParams = (runId: string, p: Record<string, string | number | boolean>): Promise<void> => runs.logParams(this.http, runId, p);
  logMetrics = (runId: string, points: runs.MetricPoint[]): Promise<void> => runs.logMetrics(this.http, runId, points);
  getMetricHistory = (runId: string, key: string): Promise<Metric[]> => runs.getMetricHistory(this.http, runId, key);
  setTags = (runId: string, tags: Tags): Promise<void> => runs.setTags(this.http, runId, tags);
  deleteTag = (runId: string, key: string): Promise<void> => runs.deleteTag(this.http, runId, key);
  logInputs = (runId: string, datasets: DatasetInput[]): Promise<void> => runs.logInputs(this.http, runId, datasets);
  logOutputs = (runId: string, models: { modelId: string; step?: number }[]): Promise<void> => runs.logOutputs(this.http, runId, models);

  // Artifacts (through the server's proxy; `artifactUri` is a run's or LoggedModel's mlflow-artifacts:/ URI)
  uploadFile = (artifactUri: string, localFile: string, destPath?: string): Promise<void> =>
    artifacts.uploadFile(this.http, artifactUri, localFile, destPath);
  uploadDir = (artifactUri: string, localDir: string, destPrefix?: string): Promise<string[]> =>
    artifacts.uploadDir(this.http, artifactUri, localDir, destPrefix);
  listArtifacts = (artifactUri: string, subPath?: string, recursive?: boolean): Promise<ArtifactEntry[]> =>
    artifacts.listArtifacts(this.http, artifactUri, subPath, recursive);
  downloadFile = (artifactUri: string, path: string, localFile: string): Promise<void> =>
    artifacts.downloadFile(this.http, artifactUri, path, localFile);
  downloadDir = (artifactUri: string, subPath: string, destDir: string): Promise<string[]> =>
    artifacts.downloadDir(this.http, artifactUri, subPath, destDir);

  // LoggedModels (3.x)
  createLoggedModel = (o: Parameters<typeof loggedModels.createLoggedModel>[1]): Promise<LoggedModel> => loggedModels.createLoggedModel(this.http, o);
  getLoggedModel = (modelId: string): Promise<LoggedModel> => loggedModels.getLoggedModel(this.http, modelId);
  finalizeLoggedModel = (modelId: string, status: LoggedModelStatus = 'LOGGED_MODEL_READY'): Promise<LoggedModel> =>
    loggedModels.finalizeLoggedModel(this.http, modelId, status);
  searchLoggedModels = (o: Parameters<typeof loggedModels.searchLoggedModels>[1]): Promise<LoggedModel[]> =>
    loggedModels.searchLoggedModels(this.http, o);

  // Registry
  createRegisteredModel = (name: string, o?: { tags?: Tags; description?: string }): Promise<RegisteredModel> =>
    registry.createRegisteredModel(this.http, name, o);
  getRegisteredModel = (name: string): Promise<RegisteredModel | null> => registry.getRegisteredModel(this.http, name);
  searchRegisteredModels = (filter?: string, maxResults?: number): Promise<RegisteredModel[]> =>
    registry.searchRegisteredModels(this.http, filter, maxResults);
  setRegisteredModelTag = (name: string, key: string, value: string): Promise<void> => registry.setRegisteredModelTag(this.http, name, key, value);
  createModelVersion = (o: registry.CreateModelVersionOptions): Promise<ModelVersion> => registry.createModelVersion(this.http, o);
  getModelVersion = (name: string, version: string): Promise<ModelVersion> => registry.getModelVersion(this.http, name, version);
  waitReady = (name: string, version: string, timeoutMs?: number): Promise<ModelVersion> =>
    registry.waitModelVersionReady(this.http, name, version, timeoutMs);
  searchModelVersions = (filter: string, maxResults?: number): Promise<ModelVersion[]> => registry.searchModelVersions(this.http, filter, maxResults);
  setModelVersionTag = (name: string, version: string, key: string, value: string): Promise<void> =>
    registry.setModelVersionTag(this.http, name, version, key, value);
  setAlias = (name: string, alias: string, version: string): Promise<void> => registry.setAlias(this.http, name, alias, version);
  deleteAlias = (name: string, alias: string): Promise<void> => registry.deleteAlias(this.http, name, alias);
  getModelVersionByAlias = (name: string, alias: string): Promise<ModelVersion | null> => registry.getModelVersionByAlias(this.http, name, alias);
  getModelVersionDownloadUri = (name: string, version: string): Promise<string> => registry.getModelVersionDownloadUri(this.http, name, version);

  /**
   * Fetches a registered model version's directory (MLmodel, model.onnx, labels.json, ...) into `destDir`.
   * Works for versions whose source is a LoggedModel (`models:/m-...`), a run (`runs:/<id>/<path>`) or a
   * proxied artifact URI.
   */
  async downloadModelVersion(name: string, version: string, destDir: string): Promise<void> {
    const mv = await this.getModelVersion(name, version);
    const uri = await this.resolveModelSource(mv, await this.getModelVersionDownloadUri(name, version));
    await this.downloadDir(uri, '', destDir);
  }

  private async resolveModelSource(mv: ModelVersion, downloadUri: string): Promise<string> {
    const models = /^models:\/(m-[^/]+)\/?$/.exec(downloadUri);
    if (models) return (await this.getLoggedModel(models[1])).info.artifact_uri;
    const run = /^runs:\/([^/]+)\/(.*)$/.exec(downloadUri);
    if (run) return `${(await this.getRun(run[1])).info.artifact_uri.replace(/\/+$/, '')}/${run[2]}`;
    if (downloadUri.startsWith('mlflow-artifacts:')) return downloadUri;
    throw new Error(`model ${mv.name} v${mv.version}: cannot download from "${downloadUri}" over HTTP`);
  }
}
