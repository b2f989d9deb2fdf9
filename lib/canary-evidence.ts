/**
 * The statistical tests behind each canary window (lib/canary-analysis.ts): one function per metric, each giving the
 * test used, the effect with its confidence interval, the p-value, and what they say: 'fail' (a regression shown),
 * 'pass' (no regression beyond the tolerated margin, shown), or 'inconclusive' (not yet either). Pure.
 */
import { sketchCount, type LatencySketch } from './latency-sketch';
import { rateRatioP, type EventStratum } from './stats/rate-ratio-sprt';
import { mannWhitneyBinned } from './stats/mann-whitney';
import { mixtureSprt } from './stats/msprt';
import { noncentralChisquareSf } from './stats/noncentral-chisquare';

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface WindowTest {
  metric: 'errors' | 'latency' | 'classes';
  test: string;
  /** What is compared, in the metric's own unit (see `test`). */
  effect: number;
  /** Confidence interval of the effect at level 1 - alpha; null where the test gives none (classes). */
  low: number | null;
  high: number | null;
  pValue: number;
  /** The share of the rollout's false-rollback budget this test spends. */
  alpha: number;
  verdict: Verdict;
}

/** Mixing scale of the error-rate interval: the +2 point regression it should bound fastest. */
const ERROR_TAU = 0.02;
/**
 * Mixing scale of the latency test on P(canary > tolerated stable) - 0.5: near a 2x slowdown's effect, the one it should
 * find fastest (docs/canary-analysis.md, "Thresholds that remain").
 */
const LATENCY_TAU = 0.3;
/** Canary latencies before the rank test's normal approximation is trusted (about 10 per sample, Siegel 1956). */
const MIN_RANK_SAMPLES = 10;

export interface Counts { requests: number; errors: number }
export type { EventStratum };

/** This window's errors as a stratum of the rollout's error test: the canary's share of the requests and the errors of each. */
export function errorStratum(canary: Counts, stable: Counts): EventStratum | undefined {
  if (canary.requests === 0 || stable.requests === 0) return undefined;
  return { eventsA: canary.errors, eventsB: stable.errors, shareA: canary.requests / (canary.requests + stable.requests) };
}

/**
 * Errors: an always-valid test that the canary's error rate exceeds stable's, pooled over every phase of the rollout
 * so far (`earlier`) and this window (fails), and an always-valid interval on this window's rate difference whose
 * upper end below the margin shows the canary is no worse (passes).
 */
export function errorTest(canary: Counts, stable: Counts, earlier: readonly EventStratum[], margin: number, alpha: number): WindowTest | undefined {
  const current = errorStratum(canary, stable);
  if (!current) return undefined;
  const pc = canary.errors / canary.requests;
  const ps = stable.errors / stable.requests;
  const pValue = rateRatioP([...earlier, current]);
  // The +1/+2 smoothing keeps the variance of two error-free samples above zero (zero would claim certainty).
  const pooled = (canary.errors + stable.errors + 1) / (canary.requests + stable.requests + 2);
  const variance = pooled * (1 - pooled) * (1 / canary.requests + 1 / stable.requests);
  const ci = mixtureSprt(pc - ps, variance, ERROR_TAU ** 2, alpha);
  const verdict = pValue <= alpha ? 'fail' : ci.high < margin ? 'pass' : 'inconclusive';
  return { metric: 'errors', test: 'anytime-valid rate-ratio test pooled over the rollout (mixture martingale); mSPRT interval on the rate difference', effect: pc - ps, low: ci.low, high: ci.high, pValue, alpha, verdict };
}

/**
 * Latency: Mann-Whitney U between the canary's sketch and stable's scaled by the tolerated ratio (a shift of the
 * log-spaced buckets), read sequentially through the mSPRT on P(canary > tolerance x stable) - 0.5. Above 0 with
 * confidence: slower than tolerated (fails); below: faster than the tolerance (passes).
 */
export function latencyTest(canary: LatencySketch | undefined, stable: LatencySketch | undefined, tolerance: number, alpha: number): WindowTest | undefined {
  if (!canary || !stable || canary.gamma !== stable.gamma) return undefined;
  const shift = Math.round(Math.log(tolerance) / Math.log(stable.gamma));
  if (sketchCount(canary) < MIN_RANK_SAMPLES || sketchCount(stable) === 0) return undefined;
  const r = mannWhitneyBinned(binned(canary, 0), binned(stable, shift));
  const variance = Math.max(r.variance, 1 / 12) / (r.na * r.nb) ** 2;
  const seq = mixtureSprt(r.auc - 0.5, variance, LATENCY_TAU ** 2, alpha);
  const verdict = seq.pValue <= alpha && seq.estimate > 0 ? 'fail' : seq.high < 0 ? 'pass' : 'inconclusive';
  return { metric: 'latency', test: `Mann-Whitney U vs ${tolerance}x stable, mSPRT on P(canary > ${tolerance}x stable) - 0.5`, effect: seq.estimate, low: seq.low, high: seq.high, pValue: seq.pValue, alpha, verdict };
}

/**
 * Predicted classes: chi-square test of homogeneity between the slots' class counts against the tolerated shift, not
 * against none. A retrained model predicts differently by design (a better model's shift can be a large share of
 * the tolerance), so the null is "Jensen-Shannon divergence at most `maxDivergence`": Pearson's statistic is then
 * noncentral chi-square with noncentrality 8 ln2 n JS (n = na nb / (na + nb), the small-shift expansion of JS in
 * bits), as the latency test shifts stable by its tolerated ratio (docs/canary-analysis.md, the classes row).
 */
export function classTest(canary: Record<string, number>, stable: Record<string, number>, divergence: number, maxDivergence: number, alpha: number, againstTolerance: boolean): WindowTest | undefined {
  const labels = [...new Set([...Object.keys(canary), ...Object.keys(stable)])].filter((l) => (canary[l] ?? 0) + (stable[l] ?? 0) > 0);
  const nc = labels.reduce((s, l) => s + (canary[l] ?? 0), 0);
  const ns = labels.reduce((s, l) => s + (stable[l] ?? 0), 0);
  if (labels.length < 2 || nc === 0 || ns === 0) return undefined;
  let chi2 = 0;
  for (const l of labels) {
    const total = (canary[l] ?? 0) + (stable[l] ?? 0);
    for (const [observed, n] of [[canary[l] ?? 0, nc], [stable[l] ?? 0, ns]]) {
      const expected = (total * n) / (nc + ns);
      chi2 += (observed - expected) ** 2 / expected;
    }
  }
  const df = labels.length - 1;
  const pValue = noncentralChisquareSf(chi2, df, againstTolerance ? 8 * Math.LN2 * ((nc * ns) / (nc + ns)) * maxDivergence : 0);
  // Replayed executions from before the tolerance tested against no shift, and asked the point estimate for size.
  const verdict = pValue <= alpha && (againstTolerance || divergence > maxDivergence) ? 'fail' : 'pass';
  const test = `chi-square homogeneity (${df} df)${againstTolerance ? ` against Jensen-Shannon divergence ${maxDivergence} (noncentral)` : ''}; Jensen-Shannon divergence as effect`;
  return { metric: 'classes', test, effect: divergence, low: null, high: null, pValue, alpha, verdict };
}

/** The sketch as counts per bucket index, moved up by `shift` buckets (every value scaled by gamma^shift). */
function binned(s: LatencySketch, shift: number): Map<number, number> {
  const m = new Map<number, number>();
  // The zero bucket sits below every indexed bucket, whatever the shift.
  if (s.zeroCount > 0) m.set(Number.MIN_SAFE_INTEGER, s.zeroCount);
  for (const [i, c] of Object.entries(s.counts)) if (c > 0) m.set(Number(i) + shift, c);
  return m;
}
