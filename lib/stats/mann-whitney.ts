/**
 * Mann-Whitney U on binned data: two samples given as counts per ordered bin (the latency sketch's log-spaced
 * buckets), so that a rank test can run on the fleet's merged histograms. Values in one bin are ties; the variance
 * carries the tie correction (Lehmann, "Nonparametrics", 1975, eq. 1.35).
 */
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';

export interface RankTest {
  na: number;
  nb: number;
  /** U of sample a: pairs (a, b) with a > b, ties counting one half. */
  u: number;
  /** U / (na nb): the probability that a value of a exceeds one of b (0.5: no difference). */
  auc: number;
  /** Variance of U under the null, tie-corrected. */
  variance: number;
  /** Normal approximation with continuity correction. */
  z: number;
  pTwoSided: number;
}

/** Counts per bin: keys are bin indices in value order (a bin's values all tie). */
export type BinnedSample = ReadonlyMap<number, number>;

export function mannWhitneyBinned(a: BinnedSample, b: BinnedSample): RankTest {
  const na = total(a);
  const nb = total(b);
  if (na === 0 || nb === 0) throw new RangeError(`mannWhitneyBinned: an empty sample (${na} and ${nb} values)`);
  const bins = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => x - y);
  let u = 0;
  let below = 0;
  let tieTerm = 0;
  for (const bin of bins) {
    const ca = a.get(bin) ?? 0;
    const cb = b.get(bin) ?? 0;
    u += ca * (below + cb / 2);
    below += cb;
    const t = ca + cb;
    tieTerm += t ** 3 - t;
  }
  const n = na + nb;
  const variance = ((na * nb) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  const mean = (na * nb) / 2;
  const diff = u - mean;
  const z = variance > 0 ? (diff - Math.sign(diff) * Math.min(0.5, Math.abs(diff))) / Math.sqrt(variance) : 0;
  return { na, nb, u, auc: u / (na * nb), variance, z, pTwoSided: 2 * (1 - normalCdf(Math.abs(z), 0, 1)) };
}

const total = (s: BinnedSample): number => {
  let n = 0;
  for (const c of s.values()) n += c;
  return n;
};
