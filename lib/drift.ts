/**
 * Drift statistics, pure (no I/O): the inference service bins live face crops with these functions and the
 * monitor bins the champion's training split with the same ones, so live and baseline histograms always share
 * their edges. PSI (population stability index) compares two histograms of one feature.
 */
import { FACE_SIZE, LABELS, NUM_CLASSES } from './labels';

export const HIST_BINS = 10;
/** Brightness is a crop's mean pixel in [0, 1]. */
export const BRIGHTNESS_RANGE: readonly [number, number] = [0, 1];
/** Contrast is a crop's pixel standard deviation; for values in [0, 1] it cannot exceed 0.5. */
export const CONTRAST_RANGE: readonly [number, number] = [0, 0.5];
/**
 * Empty bins get this share before PSI's logarithm; without it one empty bin makes PSI infinite. 1e-4 keeps a
 * bin that is empty on one side and 1 % on the other at ~0.05, well below the usual 0.25 alarm.
 */
export const PSI_EPSILON = 1e-4;

export interface CropStats {
  brightness: number;
  contrast: number;
}

/** Mean and standard deviation of one uint8 crop, scaled to [0, 1] as the model sees it. */
export function cropStats(pixels: ArrayLike<number>): CropStats {
  const n = pixels.length;
  if (n === 0) throw new Error('cropStats: empty crop');
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    const v = pixels[i] / 255;
    sum += v;
    sumSq += v * v;
  }
  const mean = sum / n;
  return { brightness: mean, contrast: Math.sqrt(Math.max(0, sumSq / n - mean * mean)) };
}

/** Index of the bin `x` falls in; values outside the range land in the first or last bin. */
export function binIndex(x: number, range: readonly [number, number], bins = HIST_BINS): number {
  const [lo, hi] = range;
  if (!(hi > lo)) throw new Error(`bad histogram range [${lo}, ${hi}]`);
  const i = Math.floor(((x - lo) / (hi - lo)) * bins);
  return Math.min(bins - 1, Math.max(0, Number.isFinite(i) ? i : 0));
}

export function histogram(values: Iterable<number>, range: readonly [number, number], bins = HIST_BINS): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[binIndex(v, range, bins)]++;
  return counts;
}

/**
 * PSI = sum over bins of (a - e) * ln(a / e), on proportions smoothed with `epsilon` and renormalised.
 * Rule of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 significant shift.
 */
export function psi(expected: readonly number[], actual: readonly number[], epsilon = PSI_EPSILON): number {
  if (expected.length !== actual.length || expected.length === 0) {
    throw new Error(`psi: histograms must have the same, non-zero length (got ${expected.length} and ${actual.length})`);
  }
  const e = smoothed(expected, epsilon);
  const a = smoothed(actual, epsilon);
  let total = 0;
  for (let i = 0; i < e.length; i++) total += (a[i] - e[i]) * Math.log(a[i] / e[i]);
  return total;
}

function smoothed(counts: readonly number[], epsilon: number): number[] {
  if (counts.some((c) => !(c >= 0))) throw new Error('psi: counts must be non-negative numbers');
  const sum = counts.reduce((s, c) => s + c, 0);
  if (sum === 0) throw new Error('psi: a histogram is empty');
  const p = counts.map((c) => c / sum + epsilon);
  const norm = p.reduce((s, x) => s + x, 0);
  return p.map((x) => x / norm);
}

/** The histograms drift is measured on; counts, not proportions, so sample sizes stay visible. */
export interface DriftFeatures {
  /** Per class index (LABELS order): training labels for a baseline, predicted classes for live traffic. */
  classes: number[];
  brightness: number[];
  contrast: number[];
}
export type DriftFeatureName = keyof DriftFeatures;
export const DRIFT_FEATURES: readonly DriftFeatureName[] = ['classes', 'brightness', 'contrast'];

export const emptyFeatures = (): DriftFeatures => ({
  classes: new Array<number>(NUM_CLASSES).fill(0),
  brightness: new Array<number>(HIST_BINS).fill(0),
  contrast: new Array<number>(HIST_BINS).fill(0),
});

/** Adds one face (its class index and crop statistics) to `f` in place. */
export function addFace(f: DriftFeatures, classIndex: number, s: CropStats): void {
  if (!(classIndex >= 0 && classIndex < NUM_CLASSES)) throw new Error(`class index ${classIndex} outside 0..${NUM_CLASSES - 1}`);
  f.classes[classIndex]++;
  f.brightness[binIndex(s.brightness, BRIGHTNESS_RANGE)]++;
  f.contrast[binIndex(s.contrast, CONTRAST_RANGE)]++;
}

/** Baseline histograms of a dataset split: `images` holds `count` 48x48 uint8 faces back to back. */
export function featuresOfImages(images: Uint8Array, labels: Uint8Array, count: number): DriftFeatures {
  const px = FACE_SIZE * FACE_SIZE;
  if (images.length !== count * px || labels.length !== count) {
    throw new Error(`featuresOfImages: ${images.length} bytes and ${labels.length} labels do not make ${count} faces of ${px} pixels`);
  }
  const f = emptyFeatures();
  for (let i = 0; i < count; i++) addFace(f, labels[i], cropStats(images.subarray(i * px, (i + 1) * px)));
  return f;
}

export interface DriftThresholds {
  /** A feature whose PSI exceeds this is drifted (default 0.25). */
  psi: number;
  /** Fewer live faces than this: the report says so and never declares drift (too noisy). */
  minSamples: number;
}

export interface DriftComparison {
  samples: number;
  psi: Record<DriftFeatureName, number | null>;
  maxPsi: number | null;
  /** Features above the threshold, worst first. */
  driftedFeatures: DriftFeatureName[];
  enoughSamples: boolean;
  drifted: boolean;
}

/** PSI per feature of live traffic against a baseline, and the verdict. */
export function compareFeatures(baseline: DriftFeatures, live: DriftFeatures, t: DriftThresholds): DriftComparison {
  const samples = live.classes.reduce((s, c) => s + c, 0);
  const enoughSamples = samples >= t.minSamples && samples > 0;
  const entries = DRIFT_FEATURES.map((name) => [name, samples > 0 ? round(psi(baseline[name], live[name])) : null] as const);
  const values = entries.map(([, v]) => v).filter((v): v is number => v !== null);
  const driftedFeatures = entries
    .filter(([, v]) => v !== null && v > t.psi)
    .sort((a, b) => (b[1] as number) - (a[1] as number))
    .map(([name]) => name);
  return {
    samples,
    psi: Object.fromEntries(entries) as Record<DriftFeatureName, number | null>,
    maxPsi: values.length ? Math.max(...values) : null,
    driftedFeatures,
    enoughSamples,
    drifted: enoughSamples && driftedFeatures.length > 0,
  };
}

/** Class counts keyed by label, as the service reports them, to a LABELS-ordered array. */
export const classCountsToArray = (counts: Record<string, number>): number[] => LABELS.map((l) => counts[l] ?? 0);

const round = (x: number) => Math.round(x * 10_000) / 10_000;
