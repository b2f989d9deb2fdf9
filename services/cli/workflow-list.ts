import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { RolloutResult } from '../../workflows/rollout-state';
import { MODEL_VERSION, STAGE } from '../../workflows/search-attributes';
import type { PipelineResult } from '../../workflows/training-pipeline';
import { failureCause } from './failure';
import { fixedWidthTable } from './table';

/** One pipeline or rollout as `ferops status` lists them: enough to pick the id to look at. */
export interface WorkflowRow {
  id: string;
  kind: 'pipeline' | 'rollout';
  status: string;
  started: string;
  /** Seconds from start to close, or to now while it runs. */
  seconds: number;
  stage?: string;
  modelVersion?: string;
  /** How it ended (outcome and reason, or the failure's cause); the stage it is in while it runs. */
  result: string;
}

const LISTED = "WorkflowType = 'trainingPipeline' OR WorkflowType = 'canaryRollout'";
const OUTCOMES: Record<string, string> = { promoted: 'promoted', rolled_back: 'rolled back', refused: 'refused' };

/**
 * `limit` pipelines and rollouts (drift retrainings and `ferops deploy` rollouts included) in the order Temporal's
 * SQL visibility lists them, running ones first, then the most recently closed; shown newest start first. Read from
 * visibility and each closed one's result: no worker needs to be running.
 */
export async function listWorkflows(client: Client, limit: number, now = Date.now()): Promise<WorkflowRow[]> {
  const infos: WorkflowExecutionInfo[] = [];
  for await (const info of client.workflow.list({ query: LISTED, pageSize: limit })) {
    infos.push(info);
    if (infos.length >= limit) break;
  }
  infos.sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
  return Promise.all(infos.map((info) => toRow(client, info, now)));
}

async function toRow(client: Client, info: WorkflowExecutionInfo, now: number): Promise<WorkflowRow> {
  const stage = info.typedSearchAttributes.get(STAGE);
  const modelVersion = info.typedSearchAttributes.get(MODEL_VERSION);
  const row: Omit<WorkflowRow, 'result'> = {
    id: info.workflowId,
    kind: info.type === 'canaryRollout' ? 'rollout' : 'pipeline',
    status: info.status.name.toLowerCase(),
    started: info.startTime.toISOString(),
    seconds: Math.round(((info.closeTime?.getTime() ?? now) - info.startTime.getTime()) / 1000),
    ...(stage ? { stage } : {}),
    ...(modelVersion ? { modelVersion } : {}),
  };
  if (info.status.name === 'RUNNING') return { ...row, result: stage ? `in ${stage}` : 'running' };
  try {
    const result = (await client.workflow.getHandle(info.workflowId, info.runId).result()) as PipelineResult | RolloutResult;
    return { ...row, result: `${OUTCOMES[result.outcome] ?? result.outcome}: ${result.reason}` };
  } catch (err) {
    return { ...row, result: failureCause(err) };
  }
}

/** One workflow a line; the last column (how it ended) is cut to `width` characters. */
export function workflowTable(rows: WorkflowRow[], width = 160): string[] {
  const cells = rows.map((r) => [
    r.id, r.kind, r.status, r.started.slice(0, 19).replace('T', ' '), duration(r.seconds), r.modelVersion ?? '-', r.result,
  ]);
  return fixedWidthTable(['workflow id', 'kind', 'status', 'started (UTC)', 'took', 'version', 'result'], cells, width);
}

const duration = (s: number): string => (s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`);
