/**
 * What every per-replica window answer (GET /admin/v1/stats, /admin/v1/drift) says about itself, and the checks
 * that make a fleet merge of such answers count each request once, and under one deployment state only.
 */
import type { ReplicaIdentity } from './wire';

export interface ReplicaWindow {
  windowSeconds: number;
  /** The desired-state generation the window was filtered to; null for a standalone service. */
  generation: number | null;
  replica: ReplicaIdentity;
}

/**
 * The same window over several replicas. A merge is itself a window answer, so that callers of one replica and of
 * the fleet read the same type: its `replica` names every merged replica (ids joined by ","), with the latest
 * start among them (a window reaching back before it lacks what the restarted replica lost).
 */
export interface FleetWindow extends ReplicaWindow {
  replicas: ReplicaIdentity[];
}

/**
 * The window the outputs share. Throws when there are none, when they differ in length or generation (a merge
 * would mix deployment states), or when one replica answered twice (its requests would count twice).
 */
export function commonWindow(outputs: readonly ReplicaWindow[], what: string): FleetWindow {
  if (outputs.length === 0) throw new Error(`${what}: no replica outputs to merge`);
  const [first] = outputs;
  const replicas: ReplicaIdentity[] = [];
  for (const o of outputs) {
    if (!o.replica?.id) throw new Error(`${what}: an output names no replica (a service older than fleet statistics?)`);
    // A merge's own members, so that merging merges is a merge of their replicas.
    for (const r of (o as Partial<FleetWindow>).replicas ?? [o.replica]) {
      if (replicas.some((seen) => seen.id === r.id)) throw new Error(`${what}: replica ${r.id} answered twice; its requests would count twice`);
      replicas.push(r);
    }
    if (o.windowSeconds !== first.windowSeconds) {
      throw new Error(`${what}: windows differ: ${first.windowSeconds} s (${first.replica.id}) and ${o.windowSeconds} s (${o.replica.id})`);
    }
    if (o.generation !== first.generation) {
      throw new Error(`${what}: generations differ: ${first.generation} (${first.replica.id}) and ${o.generation} (${o.replica.id})`);
    }
  }
  const replica = { id: replicas.map((r) => r.id).join(','), startedAt: replicas.map((r) => r.startedAt).sort().at(-1)! };
  return { windowSeconds: first.windowSeconds, generation: first.generation, replica, replicas };
}

/**
 * The version a slot served across the replicas: replicas with no occupant for it (null) do not vote, two different
 * versions under one generation mean the replicas did not serve one deployment state.
 */
export function commonVersion(slot: string, versions: readonly { replica: string; version: string | null }[]): string | null {
  const named = versions.filter((v) => v.version !== null);
  const other = named.find((v) => v.version !== named[0].version);
  if (other) throw new Error(`replicas disagree on the ${slot} version: ${named[0].version} (${named[0].replica}) and ${other.version} (${other.replica})`);
  return named[0]?.version ?? null;
}

export const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);

/** Key-wise sum of count records (class counts keyed by label). */
export function sumCounts(records: readonly Record<string, number>[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const r of records) for (const [k, n] of Object.entries(r)) sum[k] = (sum[k] ?? 0) + n;
  return sum;
}

/** Element-wise sum of equally long count arrays (binned histograms); throws when the binnings differ. */
export function sumArrays(what: string, arrays: readonly number[][]): number[] {
  const length = arrays[0]?.length ?? 0;
  if (arrays.some((a) => a.length !== length)) throw new Error(`${what}: histograms of different lengths (${arrays.map((a) => a.length).join(', ')})`);
  return Array.from({ length }, (_, i) => arrays.reduce((s, a) => s + a[i], 0));
}

/** Derived figures are rounded to 3 decimals, as the service has always reported them. */
export const round3 = (x: number) => Math.round(x * 1000) / 1000;
