/**
 * A mergeable latency histogram with bounded relative error (DDSketch's log-spaced buckets). Each replica of the
 * inference service sketches its window's latencies; the fleet's percentiles come from the sum of the sketches,
 * because percentiles of different replicas cannot be averaged into the percentile of their union.
 *
 * Bucket i holds the values in (gamma^(i-1), gamma^i] and reports them as 2 gamma^i / (gamma + 1), which is within
 * RELATIVE_ACCURACY of every value of the bucket. Values at or below MIN_MS (negative ones included) share a zero
 * bucket and are reported as 0. Counts are integers, so merging is exact, associative and commutative.
 *
 * The sketch is plain JSON data (the wire form of GET /admin/v1/stats), changed only through these functions.
 */

/** Every reported quantile is within 1 % of the exact nearest-rank value (for values above MIN_MS). */
export const RELATIVE_ACCURACY = 0.01;
export const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
/** 1 µs: far below any request's latency; it only bounds how many buckets tiny values could open. */
export const MIN_MS = 1e-3;

export interface LatencySketch {
  gamma: number;
  minMs: number;
  /** Values <= minMs. */
  zeroCount: number;
  /** Count per bucket index (as a string: JSON object keys), only the non-empty buckets. */
  counts: Record<string, number>;
}

export const emptySketch = (): LatencySketch => ({ gamma: GAMMA, minMs: MIN_MS, zeroCount: 0, counts: {} });

/** Adds one latency to `s` in place. */
export function addToSketch(s: LatencySketch, ms: number): void {
  if (Number.isNaN(ms) || ms === Infinity) throw new RangeError(`latency sketch: cannot add ${ms}`);
  if (ms <= s.minMs) {
    s.zeroCount++;
    return;
  }
  const i = String(Math.ceil(Math.log(ms) / Math.log(s.gamma)));
  s.counts[i] = (s.counts[i] ?? 0) + 1;
}

export function sketchCount(s: LatencySketch): number {
  let n = s.zeroCount;
  for (const c of Object.values(s.counts)) n += c;
  return n;
}

/** A new sketch holding the values of both; refuses sketches of different resolutions (they share no buckets). */
export function mergeSketches(a: LatencySketch, b: LatencySketch): LatencySketch {
  if (a.gamma !== b.gamma || a.minMs !== b.minMs) {
    throw new Error(`cannot merge latency sketches of different resolutions: gamma ${a.gamma} and ${b.gamma}, minMs ${a.minMs} and ${b.minMs}`);
  }
  const counts = { ...a.counts };
  for (const [i, c] of Object.entries(b.counts)) counts[i] = (counts[i] ?? 0) + c;
  return { gamma: a.gamma, minMs: a.minMs, zeroCount: a.zeroCount + b.zeroCount, counts };
}

/**
 * The nearest-rank q-quantile (the value of rank ceil(q n) in sorted order, as the stats ring computed it over raw
 * latencies), within RELATIVE_ACCURACY; null for an empty sketch. Buckets are monotone in the value, so the bucket
 * found is exactly the one holding the value of that rank.
 */
export function sketchQuantile(s: LatencySketch, q: number): number | null {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`latency sketch: quantile ${q} is outside [0, 1]`);
  const n = sketchCount(s);
  if (n === 0) return null;
  const rank = Math.max(1, Math.min(n, Math.ceil(q * n)));
  let seen = s.zeroCount;
  if (rank <= seen) return 0;
  const indices = Object.keys(s.counts).map(Number).sort((x, y) => x - y);
  for (const i of indices) {
    seen += s.counts[i];
    if (seen >= rank) return (2 * s.gamma ** i) / (s.gamma + 1);
  }
  throw new Error('unreachable: the rank never exceeds the count');
}
