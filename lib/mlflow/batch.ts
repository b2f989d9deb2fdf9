import type { KeyValue, Metric } from './types';

/** Server limits of `POST /runs/log-batch` (mlflow/utils/validation.py). */
export const BATCH_LIMITS = { metrics: 1000, params: 100, tags: 100, items: 1000, bytes: 1_000_000 } as const;

export interface BatchPayload {
  metrics: Metric[];
  params: KeyValue[];
  tags: KeyValue[];
}

// The run_id and JSON punctuation take some room; keep a margin under the 1 MB request cap.
const BYTE_BUDGET = BATCH_LIMITS.bytes - 10_000;

/**
 * Splits one logical batch into requests the server accepts. Params go first so that a run's configuration
 * lands before its metrics; order within each kind is kept (metric history is ordered by step anyway).
 */
export function splitBatch(b: Partial<BatchPayload>, limits: Record<keyof typeof BATCH_LIMITS, number> = BATCH_LIMITS): BatchPayload[] {
  const out: BatchPayload[] = [];
  let cur: BatchPayload = { metrics: [], params: [], tags: [] };
  let bytes = 0;
  const flush = () => {
    if (cur.metrics.length + cur.params.length + cur.tags.length > 0) out.push(cur);
    cur = { metrics: [], params: [], tags: [] };
    bytes = 0;
  };
  const add = <K extends keyof BatchPayload>(kind: K, item: BatchPayload[K][number], cap: number) => {
    const size = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (size > BYTE_BUDGET) throw new Error(`one ${kind} entry is ${size} bytes, over the 1 MB log-batch limit`);
    const items = cur.metrics.length + cur.params.length + cur.tags.length;
    if (cur[kind].length >= cap || items >= limits.items || bytes + size > Math.min(BYTE_BUDGET, limits.bytes)) flush();
    (cur[kind] as BatchPayload[K][number][]).push(item);
    bytes += size;
  };
  for (const p of b.params ?? []) add('params', p, limits.params);
  for (const t of b.tags ?? []) add('tags', t, limits.tags);
  for (const m of b.metrics ?? []) add('metrics', m, limits.metrics);
  flush();
  return out;
}
