/**
 * Canary simulator (issue #21): feeds the real canary analysis and decision loop (lib/canary-analysis.ts,
 * lib/canary-decision.ts) with per-request streams drawn from stated distributions, and measures, per scenario and
 * traffic rate, how often a rollout decides wrongly and how long it takes to decide, for the analysis before #21
 * (bench/canary-analysis-before.ts, one look per window) and today's (sequential looks).
 *   node --import tsx bench/canary-sim.ts [rollouts=1000] [seed=1] [--png docs/images/canary-sim.png]
 */
import { cpus } from 'node:os';
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import { analyseWindow, type Analysis } from '../lib/canary-analysis';
import { afterLook, lookContext, phaseLooks, remember, rolloutPhases, type Look, type Seen } from '../lib/canary-decision';
import type { SlotWindowStats, WindowStats } from '../lib/inference-admin/window';
import { LABELS } from '../lib/labels';
import { GAMMA, MIN_MS, sketchQuantile, type LatencySketch } from '../lib/latency-sketch';
import { DEFAULT_PIPELINE_INPUT, type RolloutInput } from '../lib/pipeline-input';
import { analyseWindowBefore } from './canary-analysis-before';

/** How a model behaves on the request stream. */
export interface Behaviour {
  errorRate: number;
  /** Every latency multiplied by this. */
  latencyScale: number;
  accuracy: number;
  /** Share of faces answered 'happy' whatever the face (a shifted class distribution). */
  happyBias: number;
}

export interface Scenario { name: string; canary: Behaviour; expect: 'promote' | 'rollback' }

/**
 * Stable: a pessimistic error rate (timeouts under load), a FER2013-class accuracy, and latencies shaped like the
 * service's measured ones: lognormal plus a few requests stalled by a busy host (docs/canary-analysis.md, "The simulator").
 */
export const STABLE: Behaviour = { errorRate: 0.005, latencyScale: 1, accuracy: 0.6, happyBias: 0 };
const LATENCY = { medianMs: 22, sigma: 0.25, stallShare: 0.03, stallMin: 2, stallMax: 5 };
/** FER2013's class frequencies (train split), in LABELS order: what the faces' true classes are drawn from. */
const CLASS_PRIOR = [0.138, 0.015, 0.143, 0.251, 0.169, 0.112, 0.172];

export const SCENARIOS: Scenario[] = [
  { name: 'A/A (identical models)', canary: STABLE, expect: 'promote' },
  { name: 'error rate +2 points', canary: { ...STABLE, errorRate: STABLE.errorRate + 0.02 }, expect: 'rollback' },
  { name: 'latency 1.5x', canary: { ...STABLE, latencyScale: 1.5 }, expect: 'rollback' },
  { name: 'latency 2x', canary: { ...STABLE, latencyScale: 2 }, expect: 'rollback' },
  { name: 'accuracy -5 points', canary: { ...STABLE, accuracy: STABLE.accuracy - 0.05 }, expect: 'rollback' },
  { name: 'accuracy -10 points', canary: { ...STABLE, accuracy: STABLE.accuracy - 0.1 }, expect: 'rollback' },
  { name: 'class shift (half the faces answered happy)', canary: { ...STABLE, happyBias: 0.5 }, expect: 'rollback' },
  // An honest retrain moves the predicted classes too, as the demo's challenger does (docs/canary-analysis.md, the class test).
  { name: 'tolerated class shift (a quarter answered happy)', canary: { ...STABLE, happyBias: 0.25 }, expect: 'promote' },
];
export const RATES = [5, 20, 100];

export type Analyser = (stats: WindowStats, phase: 'shadow' | 'traffic', rollout: RolloutInput, look: Look, seen: Seen) => Analysis;
export const AFTER: Analyser = (stats, phase, rollout, look, seen) =>
  analyseWindow(stats, phase, rollout.minRequests, rollout.thresholds, lookContext(rollout, look, seen));
export const BEFORE: Analyser = (stats, phase, rollout) => analyseWindowBefore(stats, phase, rollout.minRequests, rollout.thresholds);
/** The defaults before #21 (the latency and class thresholds changed meaning with it). */
export const BEFORE_ROLLOUT: RolloutInput = { ...DEFAULT_PIPELINE_INPUT.rollout, thresholds: { ...DEFAULT_PIPELINE_INPUT.rollout.thresholds, maxLatencyRatio: 2, maxClassDivergence: 0.2 } };

/** mulberry32: a small seeded PRNG, so that every table is reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Inverse-CDF table of the latency sketch's bucket index for a latency scale (exact buckets, cheap to sample). */
const samplers = new Map<number, (u: number) => number>();

function bucketSampler(scale: number): (u: number) => number {
  const known = samplers.get(scale);
  if (known) return known;
  const logGamma = Math.log(GAMMA);
  const cdfAt = (ms: number) => {
    const base = (m: number) => normalCdf(Math.log(ms / (scale * m)) / LATENCY.sigma, 0, 1);
    let stalled = 0;
    const steps = 16;
    for (let k = 0; k < steps; k++) stalled += base(LATENCY.medianMs * (LATENCY.stallMin + ((k + 0.5) * (LATENCY.stallMax - LATENCY.stallMin)) / steps)) / steps;
    return (1 - LATENCY.stallShare) * base(LATENCY.medianMs) + LATENCY.stallShare * stalled;
  };
  const lo = Math.floor(Math.log(scale * LATENCY.medianMs / 8) / logGamma);
  const hi = Math.ceil(Math.log(scale * LATENCY.medianMs * LATENCY.stallMax * 8) / logGamma);
  const indices: number[] = [];
  const cdf: number[] = [];
  for (let i = lo; i <= hi; i++) {
    indices.push(i);
    cdf.push(cdfAt(GAMMA ** i));
  }
  const draw = (u: number) => {
    const x = u * cdf[cdf.length - 1];
    let a = 0;
    let b = cdf.length - 1;
    while (a < b) {
      const m = (a + b) >> 1;
      if (cdf[m] < x) a = m + 1;
      else b = m;
    }
    return indices[a];
  };
  samplers.set(scale, draw);
  return draw;
}

class SlotAccumulator {
  requests = 0;
  errors = 0;
  faces = 0;
  labels = new Array<number>(LABELS.length).fill(0);
  sketch: LatencySketch = { gamma: GAMMA, minMs: MIN_MS, zeroCount: 0, counts: {} };
  stats(): SlotWindowStats {
    const q = (p: number) => sketchQuantile(this.sketch, p) ?? 0;
    return {
      requests: this.requests, errors: this.errors, faces: this.faces, classCounts: Object.fromEntries(LABELS.map((l, i) => [l, this.labels[i]])), meanConfidence: this.faces ? 0.7 : 0,
      latencyMs: { p50: q(0.5), p95: q(0.95), p99: q(0.99) }, latency: { ...this.sketch, counts: { ...this.sketch.counts } },
    };
  }
}

/** Cumulative class weights: of the prior, and of the prior without each true class (a wrong answer's draw). */
const PRIOR_CDF = cumulative(CLASS_PRIOR);
const WRONG_CDF = CLASS_PRIOR.map((_, truth) => cumulative(CLASS_PRIOR.map((w, i) => (i === truth ? 0 : w))));
const HAPPY = LABELS.indexOf('happy');

function cumulative(weights: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  let run = 0;
  return weights.map((w) => (run += w / total));
}

function draw(cdf: readonly number[], u: number): number {
  let i = 0;
  while (i < cdf.length - 1 && u > cdf[i]) i++;
  return i;
}

/** One model answering one request: -1 for an error, else its latency bucket x 8 + the predicted class. */
class Model {
  private readonly bucket: (u: number) => number;
  constructor(readonly b: Behaviour, private readonly rnd: () => number) {
    this.bucket = bucketSampler(b.latencyScale);
  }
  answer(truth: number): number {
    const r = this.rnd;
    if (r() < this.b.errorRate) return -1;
    const bucket = this.bucket(r());
    const label = r() < this.b.happyBias ? HAPPY : r() < this.b.accuracy ? truth : draw(WRONG_CDF[truth], r());
    return bucket * 8 + label;
  }
}

function record(slot: SlotAccumulator, answer: number): void {
  slot.requests++;
  if (answer < 0) {
    slot.errors++;
    return;
  }
  const bucket = Math.floor(answer / 8);
  slot.faces++;
  slot.labels[answer - bucket * 8]++;
  slot.sketch.counts[bucket] = (slot.sketch.counts[bucket] ?? 0) + 1;
}

/** `starved`: rolled back only because too few requests reached the canary (the fail-safe, not a test). */
export interface RolloutOutcome { promoted: boolean; seconds: number; starved: boolean }

/** One simulated rollout with the default phases: shadow, then each step, looked at as the workflow does. */
export function simulateRollout(canaryBehaviour: Behaviour, rate: number, analyser: Analyser, rollout: RolloutInput, sequential: boolean, rnd: () => number): RolloutOutcome {
  const stableModel = new Model(STABLE, rnd);
  const canaryModel = new Model(canaryBehaviour, rnd);
  let clock = 0;
  const seen: Seen = { earlier: [] };
  for (const p of rolloutPhases(rollout)) {
    const stable = new SlotAccumulator();
    const canary = new SlotAccumulator();
    const shadow = { compared: 0, agreed: 0, errors: 0, stable: new Array(LABELS.length).fill(0), canary: new Array(LABELS.length).fill(0) };
    let sent = 0;
    let decided = false;
    for (const look of phaseLooks(p.seconds, rollout.maxExtensions).filter((l) => sequential || l.final)) {
      for (; sent < Math.round(rate * look.elapsedSeconds); sent++) {
        const truth = draw(PRIOR_CDF, rnd());
        if (p.phase === 'shadow') {
          const s = stableModel.answer(truth);
          const c = canaryModel.answer(truth);
          record(stable, s);
          if (c < 0) shadow.errors++;
          else if (s >= 0) {
            shadow.compared++;
            shadow.stable[s % 8]++;
            shadow.canary[c % 8]++;
            if (s % 8 === c % 8) shadow.agreed++;
          }
        } else if (rnd() * 100 < p.weight) record(canary, canaryModel.answer(truth));
        else record(stable, stableModel.answer(truth));
      }
      const chance = shadow.compared ? shadow.stable.reduce((s, n, i) => s + n * shadow.canary[i], 0) / shadow.compared ** 2 : 0;
      const stats: WindowStats = {
        stable: stable.stats(), canary: canary.stats(),
        shadow: { compared: shadow.compared, agreement: shadow.compared ? shadow.agreed / shadow.compared : 0, chanceAgreement: chance, errors: shadow.errors },
      };
      const outcome = afterLook(analyser(stats, p.phase, rollout, look, seen), look, rollout.maxExtensions);
      remember(seen, stats, p.phase, outcome, rollout.minRequests);
      if (outcome.next === 'fail') return { promoted: false, seconds: clock + look.elapsedSeconds, starved: outcome.reason.startsWith('inconclusive') };
      if (outcome.next === 'pass') {
        clock += look.elapsedSeconds;
        decided = true;
        break;
      }
    }
    if (!decided) throw new Error('unreachable: the last look of a phase always decides');
  }
  return { promoted: true, seconds: clock, starved: false };
}

export interface Cell { scenario: string; rate: number; expect: Scenario['expect']; wrong: number; starved: number; medianSeconds: number; p90Seconds: number }

/** `rollouts` simulated rollouts per scenario and rate, for one analysis. */
export function simulate(opts: { rollouts: number; seed: number; analyser: Analyser; rollout: RolloutInput; sequential: boolean; scenarios?: Scenario[]; rates?: number[] }): Cell[] {
  const cells: Cell[] = [];
  for (const s of opts.scenarios ?? SCENARIOS) {
    for (const rate of opts.rates ?? RATES) {
      const rnd = prng(opts.seed * 1_000_003 + rate * 101 + cells.length);
      const runs = Array.from({ length: opts.rollouts }, () => simulateRollout(s.canary, rate, opts.analyser, opts.rollout, opts.sequential, rnd));
      const wrong = runs.filter((r) => r.promoted !== (s.expect === 'promote')).length / runs.length;
      const starved = runs.filter((r) => r.starved).length / runs.length;
      const times = runs.map((r) => r.seconds).sort((a, b) => a - b);
      cells.push({ scenario: s.name, rate, expect: s.expect, wrong, starved, medianSeconds: quantile(times, 0.5), p90Seconds: quantile(times, 0.9) });
    }
  }
  return cells;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];

export function markdownTable(before: Cell[], after: Cell[], rollouts: number): string {
  const lines = [
    `| scenario (expected) | req/s | wrong before | wrong after | rolled back for too little traffic, after | median / p90 s to decision before | after |`,
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  before.forEach((b, i) => {
    const a = after[i];
    lines.push(`| ${b.scenario} (${b.expect}) | ${b.rate} | ${pctOf(b.wrong)} | ${pctOf(a.wrong)} | ${pctOf(a.starved)} | ${b.medianSeconds} / ${b.p90Seconds} | ${a.medianSeconds} / ${a.p90Seconds} |`);
  });
  lines.push('', `${rollouts} simulated rollouts per cell; times are simulated seconds from the start of shadow (activity overheads excluded).`);
  return lines.join('\n');
}

const pctOf = (x: number) => `${(x * 100).toFixed(1)} %`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const pngAt = args.indexOf('--png');
  const png = pngAt >= 0 ? args.splice(pngAt, 2)[1] : undefined;
  const rollouts = Number(args[0] ?? 1000);
  const seed = Number(args[1] ?? 1);
  const started = Date.now();
  const before = simulate({ rollouts, seed, analyser: BEFORE, rollout: BEFORE_ROLLOUT, sequential: false });
  const after = simulate({ rollouts, seed, analyser: AFTER, rollout: DEFAULT_PIPELINE_INPUT.rollout, sequential: true });
  console.log(markdownTable(before, after, rollouts));
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s on ${cpus()[0]?.model ?? 'this CPU'})`);
  if (png) {
    const { writePlot } = await import('./canary-sim-plot');
    await writePlot(before, after, png);
    console.log(`plot: ${png}`);
  }
}

if (require.main === module) void main();
