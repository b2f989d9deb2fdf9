import { splitBatch, type BatchPayload } from './batch';
import type { MlflowHttp } from './http';
import { toKeyValues, type DatasetInput, type Metric, type Run, type RunStatus, type Tags } from './types';

export async function createRun(
  http: MlflowHttp,
  opts: { experimentId: string; runName?: string; tags?: Tags; startTime?: number },
): Promise<Run> {
  const r = await http.json<{ run: Run }>('POST', '/runs/create', {
    body: {
      experiment_id: opts.experimentId,
      run_name: opts.runName,
      start_time: opts.startTime ?? Date.now(),
      tags: toKeyValues(opts.tags),
    },
  });
  return r.run;
}

export async function updateRun(http: MlflowHttp, runId: string, status: RunStatus, endTime?: number): Promise<void> {
  const terminal = status === 'FINISHED' || status === 'FAILED' || status === 'KILLED';
  await http.json('POST', '/runs/update', {
    body: { run_id: runId, status, end_time: terminal ? (endTime ?? Date.now()) : undefined },
  });
}

export async function getRun(http: MlflowHttp, runId: string): Promise<Run> {
  return (await http.json<{ run: Run }>('GET', '/runs/get', { query: { run_id: runId } })).run;
}

export interface SearchRunsOptions {
  experimentIds: string[];
  filter?: string;
  orderBy?: string[];
  /** Stop after this many runs (all pages otherwise). */
  maxResults?: number;
  runViewType?: 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';
}

/** Searches runs, following `next_page_token` until `maxResults` runs are read or the pages end. */
export async function searchRuns(http: MlflowHttp, o: SearchRunsOptions): Promise<Run[]> {
  const limit = o.maxResults ?? Infinity;
  const runs: Run[] = [];
  let pageToken: string | undefined;
  do {
    const r = await http.json<{ runs?: Run[]; next_page_token?: string }>('POST', '/runs/search', {
      body: {
        experiment_ids: o.experimentIds,
        filter: o.filter ?? '',
        order_by: o.orderBy,
        run_view_type: o.runViewType ?? 'ACTIVE_ONLY',
        max_results: Math.min(1000, limit - runs.length),
        page_token: pageToken,
      },
    });
    runs.push(...(r.runs ?? []));
    pageToken = r.next_page_token || undefined;
  } while (pageToken && runs.length < limit);
  return runs;
}

/** Logs any mix of metrics, params and tags, split into requests within the server's log-batch limits. */
export async function logBatch(http: MlflowHttp, runId: string, b: Partial<BatchPayload>): Promise<void> {
  for (const part of splitBatch(b)) {
    await http.json('POST', '/runs/log-batch', { body: { run_id: runId, ...part } });
  }
}

export async function logParams(http: MlflowHttp, runId: string, params: Record<string, string | number | boolean>): Promise<void> {
  await logBatch(http, runId, { params: Object.entries(params).map(([key, value]) => ({ key, value: String(value) })) });
}

export async function setTags(http: MlflowHttp, runId: string, tags: Tags): Promise<void> {
  await logBatch(http, runId, { tags: toKeyValues(tags) });
}

export async function deleteTag(http: MlflowHttp, runId: string, key: string): Promise<void> {
  await http.json('POST', '/runs/delete-tag', { body: { run_id: runId, key } });
}

export type MetricPoint = { key: string; value: number; step?: number; timestamp?: number };

export const toMetric = (p: MetricPoint): Metric => ({
  key: p.key,
  // JSON has no NaN/Infinity; protobuf's JSON parser on the server reads these string spellings instead.
  value: (Number.isFinite(p.value) ? p.value : String(p.value)) as number,
  step: p.step ?? 0,
  timestamp: p.timestamp ?? Date.now(),
});

export async function logMetrics(http: MlflowHttp, runId: string, points: MetricPoint[]): Promise<void> {
  await logBatch(http, runId, { metrics: points.map(toMetric) });
}

/** Every point of one metric (all pages). */
export async function getMetricHistory(http: MlflowHttp, runId: string, key: string): Promise<Metric[]> {
  const out: Metric[] = [];
  let pageToken: string | undefined;
  do {
    const r = await http.json<{ metrics?: Metric[]; next_page_token?: string }>('GET', '/metrics/get-history', {
      query: { run_id: runId, metric_key: key, max_results: 25000, page_token: pageToken },
    });
    out.push(...(r.metrics ?? []));
    pageToken = r.next_page_token || undefined;
  } while (pageToken);
  return out;
}

/** Records dataset inputs (shown in the run's "Datasets used"). */
export async function logInputs(http: MlflowHttp, runId: string, datasets: DatasetInput[]): Promise<void> {
  await http.json('POST', '/runs/log-inputs', {
    body: { run_id: runId, datasets: datasets.map((d) => ({ dataset: d.dataset, tags: d.tags ?? [] })) },
  });
}

/** Links logged models to the run that produced them (3.x `/runs/outputs`). */
export async function logOutputs(http: MlflowHttp, runId: string, models: { modelId: string; step?: number }[]): Promise<void> {
  await http.json('POST', '/runs/outputs', {
    body: { run_id: runId, models: models.map((m) => ({ model_id: m.modelId, step: m.step ?? 0 })) },
  });
}
