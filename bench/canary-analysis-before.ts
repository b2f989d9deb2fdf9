/**
 * The canary analysis before issue #21 (fixed thresholds on single observations, one look per window), kept only so
 * that bench/canary-sim.ts can measure it next to today's. Not used by the service or the workflow.
 */
import type { RolloutInput } from '../lib/pipeline-input';
import type { WindowStats } from '../lib/inference-admin/window';
import { jensenShannon, kappaInterval } from '../lib/canary-analysis';

type Verdict = 'pass' | 'fail' | 'inconclusive';

/** A canary's p95 must also exceed stable's by this many milliseconds before a latency ratio can fail it. */
const MIN_LATENCY_GAP_MS = 10;

/** Faces each slot must have answered in a window before their class distributions are compared. */
const MIN_FACES_FOR_DIVERGENCE = 50;
interface Analysis {
  verdict: Verdict;
  reasons: string[];
  numbers: Record<string, number>;
}

export function analyseWindowBefore(
  stats: WindowStats,
  phase: 'shadow' | 'traffic',
  minRequests: number,
  t: RolloutInput['thresholds'],
): Analysis {
  const { stable, shadow } = stats;
  // In shadow the canary answers no client: its requests and errors are the mirrored ones, and the service
  // measures agreement there, not latency or confidence.
  const canary = phase === 'shadow' ? { ...stats.canary, requests: shadow.compared + shadow.errors, errors: shadow.errors } : stats.canary;
  const canaryRequests = canary.requests;
  const numbers: Record<string, number> = {
    canaryRequests,
    stableRequests: stable.requests,
    canaryErrorRate: rate(canary.errors, canary.requests),
    stableErrorRate: rate(stable.errors, stable.requests),
    latencyRatio: stable.latencyMs.p95 > 0 ? canary.latencyMs.p95 / stable.latencyMs.p95 : 1,
    classDivergence: jensenShannon(canary.classCounts, stable.classCounts),
    confidenceRatio: stable.meanConfidence > 0 ? canary.meanConfidence / stable.meanConfidence : 1,
    shadowAgreement: shadow.agreement,
  };
  const reasons: string[] = [];
  // Errors are judged first and even on few requests: one failing request is evidence enough.
  if (canary.errors > 0 && numbers.canaryErrorRate > numbers.stableErrorRate + t.maxErrorRateIncrease) {
    reasons.push(`error rate ${pct(numbers.canaryErrorRate)} vs stable ${pct(numbers.stableErrorRate)}`);
  }
  if (canaryRequests < minRequests) {
    return { verdict: reasons.length ? 'fail' : 'inconclusive', reasons: reasons.length ? reasons : [`only ${canaryRequests} of ${minRequests} requests`], numbers };
  }
  // A ratio of millisecond latencies is mostly noise (a 3 ms p95 next to a 1 ms one is "3x"): only a slowdown that
  // is also large in absolute terms counts.
  const latencyGap = canary.latencyMs.p95 - stable.latencyMs.p95;
  if (phase === 'traffic' && numbers.latencyRatio > t.maxLatencyRatio && latencyGap > MIN_LATENCY_GAP_MS) {
    reasons.push(`p95 latency ${numbers.latencyRatio.toFixed(2)}x stable (+${latencyGap.toFixed(0)} ms)`);
  }
  let undecided: string | undefined;
  if (phase === 'shadow' && shadow.chanceAgreement === undefined) {
    // A service that predates chance agreement: the raw floor, as before.
    if (shadow.agreement < t.minShadowAgreement) reasons.push(`shadow agreement ${pct(shadow.agreement)} < ${pct(t.minShadowAgreement)}`);
  } else if (phase === 'shadow') {
    const k = kappaInterval(shadow.agreement, shadow.chanceAgreement!, shadow.compared);
    Object.assign(numbers, { shadowKappa: k.kappa, shadowKappaLow: k.low, shadowKappaHigh: k.high });
    const said = `shadow agreement ${pct(shadow.agreement)} vs ${pct(shadow.chanceAgreement!)} by chance: kappa ${k.kappa.toFixed(2)} (95 % CI ${k.low.toFixed(2)}..${k.high.toFixed(2)}, minimum ${t.minShadowKappa})`;
    if (k.high < t.minShadowKappa) reasons.push(said);
    else if (k.low < t.minShadowKappa) undecided = said;
  }
  // Divergence of a handful of faces is mostly sampling noise (8 faces from the same model measured 0.29), so it is
  // judged only once both slots have answered enough faces.
  const enoughFaces = canary.faces >= MIN_FACES_FOR_DIVERGENCE && stable.faces >= MIN_FACES_FOR_DIVERGENCE;
  if (phase === 'traffic' && enoughFaces && numbers.classDivergence > t.maxClassDivergence) {
    reasons.push(`class distribution diverges from stable (JS ${numbers.classDivergence.toFixed(3)})`);
  }
  if (phase === 'traffic' && numbers.confidenceRatio < t.minConfidenceRatio) reasons.push(`mean confidence ${numbers.confidenceRatio.toFixed(2)}x stable`);
  if (reasons.length) return { verdict: 'fail', reasons, numbers };
  if (undecided) return { verdict: 'inconclusive', reasons: [`not yet decided: ${undecided}`], numbers };
  return { verdict: 'pass', reasons: ['within thresholds'], numbers };
}

const rate = (n: number, d: number): number => (d > 0 ? n / d : 0);
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
