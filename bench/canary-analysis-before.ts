/**
 * The canary analysis before issue #21 (fixed thresholds on single observations, one look per window), kept only so
 * that bench/canary-sim.ts can measure it next to today's. Not used by the service or the workflow. What #21 left
 * unchanged (the numbers, the shadow agreement rule, the face minimum) comes from lib/canary-analysis.ts.
 */
import type { RolloutInput } from '../lib/pipeline-input';
import type { WindowStats } from '../lib/inference-admin/window';
import { enoughFacesToCompare, judgeShadowAgreement, judgedCanary, windowNumbers, type Analysis } from '../lib/canary-analysis';

/** A canary's p95 must also exceed stable's by this many milliseconds before a latency ratio can fail it. */
const MIN_LATENCY_GAP_MS = 10;

export function analyseWindowBefore(
  stats: WindowStats,
  phase: 'shadow' | 'traffic',
  minRequests: number,
  t: RolloutInput['thresholds'],
): Analysis {
  const { stable } = stats;
  const canary = judgedCanary(stats, phase);
  const canaryRequests = canary.requests;
  const numbers = windowNumbers(canary, stable, stats.shadow);
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
  const agreement = phase === 'shadow' ? judgeShadowAgreement(stats.shadow, t, numbers) : {};
  if (agreement.fail) reasons.push(agreement.fail);
  if (phase === 'traffic' && enoughFacesToCompare(canary, stable) && numbers.classDivergence > t.maxClassDivergence) {
    reasons.push(`class distribution diverges from stable (JS ${numbers.classDivergence.toFixed(3)})`);
  }
  if (phase === 'traffic' && numbers.confidenceRatio < t.minConfidenceRatio) reasons.push(`mean confidence ${numbers.confidenceRatio.toFixed(2)}x stable`);
  if (reasons.length) return { verdict: 'fail', reasons, numbers };
  if (agreement.undecided) return { verdict: 'inconclusive', reasons: [`not yet decided: ${agreement.undecided}`], numbers };
  return { verdict: 'pass', reasons: ['within thresholds'], numbers };
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
