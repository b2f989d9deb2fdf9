/**
 * Canary analysis: a pure function from one window's per-slot statistics to pass / fail / inconclusive, with
 * the numbers behind the decision. Workflow code calls it, so it must stay deterministic and free of I/O.
 */
import { classTest, errorStratum, errorTest, latencyTest, type EventStratum, type Verdict, type WindowTest } from './canary-evidence';
import type { RolloutInput } from './pipeline-input';
import type { SlotWindowStats, WindowStats } from './inference-admin/window';

export type { Verdict, WindowTest };

/**
 * Faces each slot must have answered in a window before their class distributions and mean confidences are compared:
 * on a few faces both are mostly the faces' own spread (docs/canary-analysis.md, the confidence row).
 */
const MIN_FACES_TO_COMPARE = 50;
export interface Analysis {
  verdict: Verdict;
  reasons: string[];
  numbers: Record<string, number>;
  /** Each statistical test of the window: test used, effect, confidence interval, p-value (absent before #21). */
  tests?: WindowTest[];
}

/** Where in the rollout a look at a window falls, which sets how much of the false-rollback budget each test spends. */
export interface LookContext {
  /** The window's scheduled end: without a regression shown, enough requests pass. Before it, only clear evidence decides. */
  final: boolean;
  /** Phases of the rollout (shadow and each traffic step): the budget is split evenly between them. */
  phases: number;
  /** Most looks a phase can take (every look of every extension): the class test, not sequential, splits its share over them. */
  looksPerPhase: number;
  /** Stable's counts from the last window that had them, for a step where stable takes no traffic (100 %). */
  baseline?: SlotWindowStats;
  /** Error counts of the rollout's finished phases (`windowErrors`): the error test pools them with this window. */
  earlier?: EventStratum[];
  /**
   * false only to replay executions from before the class test tolerated a shift (`classTest`): they tested against no
   * shift and failed on a significant one whose Jensen-Shannon point estimate was above maxClassDivergence.
   */
  classesAgainstTolerance?: boolean;
}

/** Share of the false-rollback budget spent on the rollout-wide error test; latency and classes split the rest per phase. */
const ERROR_BUDGET_SHARE = 0.4;

/** One final look per window over a four-step rollout with a shadow phase: what a single analysis call stands for. */
const SINGLE_LOOK: LookContext = { final: true, phases: 5, looksPerPhase: 3 };

export function analyseWindow(
  stats: WindowStats,
  phase: 'shadow' | 'traffic',
  minRequests: number,
  t: RolloutInput['thresholds'],
  look: LookContext = SINGLE_LOOK,
): Analysis {
  // At 100 % the stable slot answers nothing: compare with what it answered in the previous step.
  const stable = stats.stable.requests < minRequests && look.baseline ? look.baseline : stats.stable;
  const canary = judgedCanary(stats, phase);
  const canaryRequests = canary.requests;
  const numbers = windowNumbers(canary, stable, stats.shadow);
  const traffic = phase === 'traffic';
  const falseRollbackRate = t.falseRollbackRate ?? DEFAULT_FALSE_ROLLBACK_RATE;
  const tests: WindowTest[] = [];
  const reasons: string[] = [];
  const failed = (w: WindowTest | undefined, said: string) => {
    if (!w) return;
    tests.push(w);
    if (w.verdict === 'fail') reasons.push(`${said} (${w.test}: p ${w.pValue.toExponential(1)} <= ${w.alpha.toExponential(1)})`);
  };
  // Errors are judged first and even on few requests: a few failing requests can be evidence enough.
  // Errors are compared with this window's own stable counts only: a baseline reused would count stable's errors twice.
  failed(errorTest(canary, stats.stable, look.earlier ?? [], t.maxErrorRateIncrease, falseRollbackRate * ERROR_BUDGET_SHARE), `error rate ${pct(numbers.canaryErrorRate)} vs stable ${pct(numbers.stableErrorRate)}`);
  const alpha = (falseRollbackRate * (1 - ERROR_BUDGET_SHARE)) / look.phases / 2;
  // The sequential tests may fail a window before minRequests (their evidence is valid at any count); passing needs it.
  if (traffic) failed(latencyTest(canary.latency, stable.latency, t.maxLatencyRatio, alpha), `latency slower than ${t.maxLatencyRatio}x stable (p95 ${numbers.latencyRatio.toFixed(2)}x)`);
  if (canaryRequests < minRequests) {
    return { verdict: reasons.length ? 'fail' : 'inconclusive', reasons: reasons.length ? reasons : [`only ${canaryRequests} of ${minRequests} requests`], numbers, tests };
  }
  const agreement = phase === 'shadow' ? judgeShadowAgreement(stats.shadow, t, numbers) : {};
  if (agreement.fail) reasons.push(agreement.fail);
  if (traffic && enoughFacesToCompare(canary, stable)) {
    failed(classTest(canary.classCounts, stable.classCounts, numbers.classDivergence, t.maxClassDivergence, alpha / look.looksPerPhase, look.classesAgainstTolerance ?? true), `class distribution diverges from stable (JS ${numbers.classDivergence.toFixed(3)})`);
    if (numbers.confidenceRatio < t.minConfidenceRatio) reasons.push(`mean confidence ${numbers.confidenceRatio.toFixed(2)}x stable`);
  }
  if (reasons.length) return { verdict: 'fail', reasons, numbers, tests };
  if (agreement.undecided) return { verdict: 'inconclusive', reasons: [`not yet decided: ${agreement.undecided}`], numbers, tests };
  if (look.final) return { verdict: 'pass', reasons: ['no regression shown'], numbers, tests };
  // Before the window's end a pass needs every test, the error test always among them, to show the canary within its margins.
  const open = [...(tests.some((w) => w.metric === 'errors') ? [] : ['errors']), ...tests.filter((w) => w.verdict !== 'pass').map((w) => w.metric)];
  if (open.length === 0) return { verdict: 'pass', reasons: ['within every margin, shown early'], numbers, tests };
  return { verdict: 'inconclusive', reasons: [`looking again: ${open.join(', ')} not yet shown within margins`], numbers, tests };
}

/** This window's errors as a stratum of the rollout-wide error test, once its phase is over (LookContext.earlier). */
export function windowErrors(stats: WindowStats, phase: 'shadow' | 'traffic'): EventStratum | undefined {
  return errorStratum(judgedCanary(stats, phase), stats.stable);
}

/**
 * The canary as the analysis judges it. In shadow it answers no client: its requests and errors are the mirrored
 * ones, and the service measures agreement there, not latency or confidence (bench/canary-analysis-before.ts too).
 */
export function judgedCanary(stats: WindowStats, phase: 'shadow' | 'traffic'): SlotWindowStats {
  // Services older than shadow errors sent none: no error seen is what they meant.
  const errors = stats.shadow.errors ?? 0;
  return phase === 'shadow' ? { ...stats.canary, requests: stats.shadow.compared + errors, errors } : stats.canary;
}

/** The numbers behind a window's decision, recorded whatever the verdict (bench/canary-analysis-before.ts too). */
export function windowNumbers(canary: SlotWindowStats, stable: SlotWindowStats, shadow: WindowStats['shadow']): Record<string, number> {
  return {
    canaryRequests: canary.requests,
    stableRequests: stable.requests,
    canaryErrorRate: rate(canary.errors, canary.requests),
    stableErrorRate: rate(stable.errors, stable.requests),
    latencyRatio: stable.latencyMs.p95 > 0 ? canary.latencyMs.p95 / stable.latencyMs.p95 : 1,
    classDivergence: jensenShannon(canary.classCounts, stable.classCounts),
    confidenceRatio: stable.meanConfidence > 0 ? canary.meanConfidence / stable.meanConfidence : 1,
    shadowAgreement: shadow.agreement,
  };
}

/**
 * The shadow phase's agreement rule, unchanged by #21 (bench/canary-analysis-before.ts uses it too): a failure, a
 * verdict left open, or neither. Adds the kappa and its interval to `numbers`.
 */
export function judgeShadowAgreement(shadow: WindowStats['shadow'], t: RolloutInput['thresholds'], numbers: Record<string, number>): { fail?: string; undecided?: string } {
  if (shadow.chanceAgreement === undefined) {
    // A service that predates chance agreement: the raw floor, as before.
    return shadow.agreement < t.minShadowAgreement ? { fail: `shadow agreement ${pct(shadow.agreement)} < ${pct(t.minShadowAgreement)}` } : {};
  }
  const k = kappaInterval(shadow.agreement, shadow.chanceAgreement, shadow.compared);
  Object.assign(numbers, { shadowKappa: k.kappa, shadowKappaLow: k.low, shadowKappaHigh: k.high });
  const said = `shadow agreement ${pct(shadow.agreement)} vs ${pct(shadow.chanceAgreement)} by chance: kappa ${k.kappa.toFixed(2)} (95 % CI ${k.low.toFixed(2)}..${k.high.toFixed(2)}, minimum ${t.minShadowKappa})`;
  if (k.high < t.minShadowKappa) return { fail: said };
  return k.low < t.minShadowKappa ? { undecided: said } : {};
}

/**
 * Whether both slots answered enough faces for their class distributions to be compared: the divergence of a
 * handful of faces is mostly sampling noise.
 */
export const enoughFacesToCompare = (canary: SlotWindowStats, stable: SlotWindowStats): boolean =>
  canary.faces >= MIN_FACES_TO_COMPARE && stable.faces >= MIN_FACES_TO_COMPARE;

/** The false-rollback budget of a whole rollout when the input predates it (a fixed value, so old histories replay). */
const DEFAULT_FALSE_ROLLBACK_RATE = 0.01;

/** Two-sided 95 % z value: each bound of the interval is a one-sided 97.5 % bound. */
const Z95 = 1.96;

/**
 * Cohen's kappa from observed and chance agreement over n faces, with a large-sample 95 % interval
 * (se = sqrt(po (1 - po) / n) / (1 - pe)). Exported for tests.
 */
export function kappaInterval(po: number, pe: number, n: number): { kappa: number; low: number; high: number } {
  if (pe >= 1 || n === 0) return { kappa: 0, low: -1, high: 1 };
  const kappa = (po - pe) / (1 - pe);
  const se = Math.sqrt((po * (1 - po)) / n) / (1 - pe);
  // A window where every face agrees has se 0; a floor of one face's worth keeps the interval honest.
  const half = Z95 * Math.max(se, 1 / (n * (1 - pe)));
  return { kappa: round4(kappa), low: round4(kappa - half), high: round4(kappa + half) };
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

const rate = (n: number, d: number): number => (d > 0 ? n / d : 0);
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** Jensen-Shannon divergence (base 2, in [0, 1]) between two count histograms over the same labels. */
export function jensenShannon(a: Record<string, number>, b: Record<string, number>): number {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  const sa = keys.reduce((s, k) => s + (a[k] ?? 0), 0);
  const sb = keys.reduce((s, k) => s + (b[k] ?? 0), 0);
  if (sa === 0 || sb === 0) return 0;
  let js = 0;
  for (const k of keys) {
    const p = (a[k] ?? 0) / sa;
    const q = (b[k] ?? 0) / sb;
    const m = (p + q) / 2;
    if (p > 0) js += 0.5 * p * Math.log2(p / m);
    if (q > 0) js += 0.5 * q * Math.log2(q / m);
  }
  return js;
}

