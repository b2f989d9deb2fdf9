/**
 * GET /admin/v1/stats: one replica's window statistics per slot, for canary analysis, and their fleet merge. Each
 * answer carries raw counts and a latency sketch besides the derived figures, so that the merge sums counts and
 * recomputes rates and percentiles from them: rates and percentiles of different replicas cannot be averaged.
 */
import { LABELS } from '../labels';
import { emptySketch, type LatencySketch, mergeSketches, sketchQuantile } from '../latency-sketch';
import { commonVersion, commonWindow, type FleetWindow, type ReplicaWindow, round3, sum, sumCounts } from './replica-window';
import { SLOT_NAMES, type SlotName } from './wire';

/** What one slot did in the window; every field sums across replicas. */
export interface SlotCounts {
  version: string | null;
  /** Answered requests, failed ones included (client errors are not counted at all). */
  requests: number;
  errors: number;
  okRequests: number;
  /** Successful requests in which no face was found. */
  noFaceRequests: number;
  faces: number;
  /** Sum of the top-class probability over the faces. */
  confidenceSum: number;
  /** Predicted faces per label. */
  classCounts: Record<string, number>;
  latency: LatencySketch;
}

export interface SlotStats extends SlotCounts {
  /** Nearest-rank percentiles from `latency`, within its relative accuracy (lib/latency-sketch.ts). */
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  meanConfidence: number | null;
  noFaceRate: number | null;
}

export interface ShadowCounts {
  /** Faces both models classified. */
  compared: number;
  agreed: number;
  /** Shadow runs that failed (the client never sees them; canary analysis must). */
  errors: number;
  /** Compared faces per label, as each model classified them: chance agreement is computed from these marginals. */
  classCounts: { stable: Record<string, number>; canary: Record<string, number> };
}

export interface ShadowStats extends ShadowCounts {
  agreement: number | null;
  /** Agreement two models with these class distributions would reach by chance (Cohen's p_e). */
  chanceAgreement: number | null;
}

export interface StatsOutput extends ReplicaWindow {
  slots: Record<SlotName, SlotStats>;
  shadow: ShadowStats;
}

/** Several replicas' answers for one window and generation, merged. */
export interface FleetStats extends FleetWindow {
  slots: Record<SlotName, SlotStats>;
  shadow: ShadowStats;
}

export const emptyClassCounts = (): Record<string, number> => Object.fromEntries(LABELS.map((l) => [l, 0]));

export const emptySlotCounts = (version: string | null): SlotCounts => ({
  version,
  requests: 0,
  errors: 0,
  okRequests: 0,
  noFaceRequests: 0,
  faces: 0,
  confidenceSum: 0,
  classCounts: emptyClassCounts(),
  latency: emptySketch(),
});

/** The counts with the figures derived from them. */
export function slotStats(c: SlotCounts): SlotStats {
  const p = (q: number) => {
    const v = sketchQuantile(c.latency, q);
    return v === null ? null : round3(v);
  };
  return {
    ...c,
    latencyMs: { p50: p(0.5), p95: p(0.95), p99: p(0.99) },
    meanConfidence: c.faces ? round3(c.confidenceSum / c.faces) : null,
    noFaceRate: c.okRequests ? round3(c.noFaceRequests / c.okRequests) : null,
  };
}

/** The counts with agreement and chance agreement (p_e = sum over classes of p_stable(c) p_canary(c)). */
export function shadowStats(c: ShadowCounts): ShadowStats {
  const { compared } = c;
  const chance = Object.entries(c.classCounts.stable).reduce((s, [label, n]) => s + n * (c.classCounts.canary[label] ?? 0), 0) / (compared * compared);
  return { ...c, agreement: compared ? round3(c.agreed / compared) : null, chanceAgreement: compared ? round3(chance) : null };
}

/**
 * One window over the whole fleet: counts summed, rates and percentiles recomputed from the sums and the merged
 * latency sketches. Throws when the answers are for different window lengths or generations, when a replica
 * answered twice, when replicas name different versions for a slot, or when an answer lacks the raw counts.
 */
export function mergeStats(outputs: readonly StatsOutput[]): FleetStats {
  const window = commonWindow(outputs, 'mergeStats');
  for (const o of outputs) requireCounts(o);
  const slots = Object.fromEntries(
    SLOT_NAMES.map((slot) => {
      const each = outputs.map((o) => o.slots[slot]);
      const counts: SlotCounts = {
        version: commonVersion(slot, outputs.map((o) => ({ replica: o.replica.id, version: o.slots[slot].version }))),
        requests: sum(each.map((s) => s.requests)),
        errors: sum(each.map((s) => s.errors)),
        okRequests: sum(each.map((s) => s.okRequests)),
        noFaceRequests: sum(each.map((s) => s.noFaceRequests)),
        faces: sum(each.map((s) => s.faces)),
        confidenceSum: sum(each.map((s) => s.confidenceSum)),
        classCounts: sumCounts(each.map((s) => s.classCounts)),
        latency: each.map((s) => s.latency).reduce(mergeSketches),
      };
      return [slot, slotStats(counts)];
    }),
  ) as Record<SlotName, SlotStats>;
  const shadows = outputs.map((o) => o.shadow);
  const shadow = shadowStats({
    compared: sum(shadows.map((s) => s.compared)),
    agreed: sum(shadows.map((s) => s.agreed)),
    errors: sum(shadows.map((s) => s.errors)),
    classCounts: { stable: sumCounts(shadows.map((s) => s.classCounts.stable)), canary: sumCounts(shadows.map((s) => s.classCounts.canary)) },
  });
  return { ...window, slots, shadow };
}

/** A replica older than fleet statistics answers derived figures only; merging those would be silently wrong. */
function requireCounts(o: StatsOutput): void {
  const missing = [
    ...SLOT_NAMES.filter((slot) => {
      const s = o.slots?.[slot];
      return !s || typeof s.okRequests !== 'number' || typeof s.noFaceRequests !== 'number' || typeof s.confidenceSum !== 'number' || !s.latency;
    }),
    ...(typeof o.shadow?.agreed === 'number' && o.shadow.classCounts ? [] : ['shadow']),
  ];
  if (missing.length) throw new Error(`mergeStats: replica ${o.replica.id} answered no raw counts for ${missing.join(', ')} (a service older than fleet statistics?)`);
}
