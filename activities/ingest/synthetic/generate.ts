import { FACE_SIZE, NUM_CLASSES } from '../../../lib/labels';
import { Split } from '../../../lib/dataset/manifest';
import { sampleAppearance } from './appearance';
import { sampleExpression } from './expressions';
import { Rng, streamSeed } from './prng';
import { renderFace } from './render';

/** Bump when the drawing changes, so cached parameter->dataset mappings are not reused for new pictures. */
export const GENERATOR_VERSION = 1;

/** FER2013's class counts (all 35,887 rows), in LABELS order: disgust is rare, happy common. */
export const FER2013_CLASS_COUNTS = [4953, 547, 5121, 8989, 6077, 4002, 6198];

export interface SyntheticParams {
  size: number;
  seed: number;
  difficulty: number; // 0 easy .. 1 hard
  balance: 'fer2013' | 'uniform';
}

export const SYNTHETIC_DEFAULTS: SyntheticParams = { size: 4000, seed: 0, difficulty: 0.5, balance: 'fer2013' };

/** Exact class counts for `size` faces: largest-remainder rounding of the target proportions. */
export function classCountsFor(size: number, balance: SyntheticParams['balance']): number[] {
  const weights = balance === 'uniform' ? new Array<number>(NUM_CLASSES).fill(1) : FER2013_CLASS_COUNTS;
  const total = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (size * w) / total);
  const counts = exact.map(Math.floor);
  const order = exact.map((x, i) => ({ i, frac: x - Math.floor(x) })).sort((a, b) => b.frac - a.frac || a.i - b.i);
  const missing = size - counts.reduce((a, b) => a + b, 0);
  for (let k = 0; k < missing; k++) counts[order[k % NUM_CLASSES].i]++;
  return counts;
}

/** Stratified 80/10/10 plan: which class each face of each split shows, in a seeded random order. */
export function splitPlan(params: SyntheticParams): Record<Split, number[]> {
  const rng = new Rng(streamSeed(params.seed, -1));
  const plan: Record<Split, number[]> = { train: [], val: [], test: [] };
  classCountsFor(params.size, params.balance).forEach((n, label) => {
    const val = Math.round(n * 0.1);
    const test = Math.round(n * 0.1);
    for (let i = 0; i < n; i++) (i < val ? plan.val : i < val + test ? plan.test : plan.train).push(label);
  });
  for (const s of ['train', 'val', 'test'] as const) rng.shuffle(plan[s]);
  return plan;
}

/**
 * Renders face number `index` of class `label`. Each face has its own PRNG stream, so a face does not
 * depend on how many were drawn before it.
 */
export function renderSyntheticFace(params: SyntheticParams, index: number, label: number, out: Uint8Array, scratch: Float32Array): void {
  const rng = new Rng(streamSeed(params.seed, index));
  const expr = sampleExpression(label, params.difficulty, rng);
  const look = sampleAppearance(params.difficulty, rng, FACE_SIZE);
  renderFace(expr, look, rng, FACE_SIZE, out, scratch);
}

export function validateSyntheticParams(p: Partial<SyntheticParams>): SyntheticParams {
  const params = { ...SYNTHETIC_DEFAULTS, ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) };
  if (!Number.isInteger(params.size) || params.size < NUM_CLASSES * 10 || params.size > 1_000_000) {
    throw new Error(`synthetic size must be an integer in ${NUM_CLASSES * 10}..1000000, got ${params.size}`);
  }
  if (!Number.isInteger(params.seed) || params.seed < 0 || params.seed > 0xffffffff) {
    throw new Error(`synthetic seed must be an integer in 0..2^32-1, got ${params.seed}`);
  }
  if (typeof params.difficulty !== 'number' || !(params.difficulty >= 0 && params.difficulty <= 1)) {
    throw new Error(`synthetic difficulty must be a number in 0..1, got ${params.difficulty}`);
  }
  if (params.balance !== 'fer2013' && params.balance !== 'uniform') {
    throw new Error(`synthetic balance must be 'fer2013' or 'uniform', got ${String(params.balance)}`);
  }
  return params;
}
