import type { MlflowHttp } from './http';
import { toKeyValues, type LoggedModel, type LoggedModelStatus, type Tags } from './types';

/** MLflow 3.x LoggedModel: created PENDING, files uploaded to its artifact_uri, then finalized READY. */
export async function createLoggedModel(
  http: MlflowHttp,
  o: { experimentId: string; name: string; sourceRunId?: string; modelType?: string; params?: Record<string, string>; tags?: Tags },
): Promise<LoggedModel> {
  const r = await http.json<{ model: LoggedModel }>('POST', '/logged-models', {
    body: {
      experiment_id: o.experimentId,
      name: o.name,
      model_type: o.modelType,
      source_run_id: o.sourceRunId,
      params: toKeyValues(o.params),
      tags: toKeyValues(o.tags),
    },
  });
  return r.model;
}

export async function getLoggedModel(http: MlflowHttp, modelId: string): Promise<LoggedModel> {
  return (await http.json<{ model: LoggedModel }>('GET', `/logged-models/${encodeURIComponent(modelId)}`)).model;
}

/** The handler reads `model_id` from the body, not the URL, so it goes in both. */
export async function finalizeLoggedModel(http: MlflowHttp, modelId: string, status: LoggedModelStatus): Promise<LoggedModel> {
  const r = await http.json<{ model: LoggedModel }>('PATCH', `/logged-models/${encodeURIComponent(modelId)}`, {
    body: { model_id: modelId, status },
  });
  return r.model;
}

export async function searchLoggedModels(
  http: MlflowHttp,
  o: { experimentIds: string[]; filter?: string; maxResults?: number },
): Promise<LoggedModel[]> {
  const r = await http.json<{ models?: LoggedModel[] }>('POST', '/logged-models/search', {
    body: { experiment_ids: o.experimentIds, filter: o.filter, max_results: o.maxResults ?? 100 },
  });
  return r.models ?? [];
}
