import { LABELS, NUM_CLASSES, type Label } from '../../lib/labels';

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationScores {
  count: number;
  accuracy: number;
  macroF1: number;
  perClass: Record<Label, ClassScores>;
  /** confusion[true][predicted] */
  confusion: number[][];
  /** Expected calibration error over equal-width confidence bins. */
  ece: number;
}

/** Counts confusion[true][predicted]; labels outside 0..k-1 are a data error, not something to skip. */
export function confusionMatrix(truth: ArrayLike<number>, predicted: ArrayLike<number>, k: number = NUM_CLASSES): number[][] {
  if (truth.length !== predicted.length) throw new Error(`confusionMatrix: ${truth.length} labels vs ${predicted.length} predictions`);
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    const p = predicted[i];
    if (!(t >= 0 && t < k && Number.isInteger(t))) throw new Error(`confusionMatrix: label ${t} at ${i} is not in 0..${k - 1}`);
    if (!(p >= 0 && p < k && Number.isInteger(p))) throw new Error(`confusionMatrix: prediction ${p} at ${i} is not in 0..${k - 1}`);
    m[t][p]++;
  }
  return m;
}

/**
 * Per-class precision/recall/F1 from a confusion matrix. A class never predicted has precision 0 and one never
 * present has recall 0 (sklearn's zero_division=0), so a collapsed model scores low instead of NaN.
 */
export function perClassScores(confusion: number[][]): ClassScores[] {
  const k = confusion.length;
  return confusion.map((row, c) => {
    const tp = row[c];
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < k; r++) predicted += confusion[r][c];
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support };
  });
}

export function accuracyOf(confusion: number[][]): number {
  const total = confusion.flat().reduce((a, b) => a + b, 0);
  return total ? confusion.reduce((s, row, i) => s + row[i], 0) / total : 0;
}

/** Unweighted mean of per-class F1 over the classes present in the truth (absent classes would only add zeros). */
export function macroF1Of(scores: ClassScores[]): number {
  const present = scores.filter((s) => s.support > 0);
  return present.length ? present.reduce((a, s) => a + s.f1, 0) / present.length : 0;
}

/**
 * Expected calibration error (Guo et al. 2017): predictions binned by confidence into `bins` equal-width bins
 * (right-closed, so confidence 1.0 lands in the last one); the gap |accuracy - mean confidence| of each bin,
 * weighted by its share of the samples.
 */
export function expectedCalibrationError(confidence: ArrayLike<number>, correct: ArrayLike<boolean>, bins = 15): number {
  const n = confidence.length;
  if (n === 0) return 0;
  const count = new Array<number>(bins).fill(0);
  const confSum = new Array<number>(bins).fill(0);
  const hits = new Array<number>(bins).fill(0);
  for (let i = 0; i < n; i++) {
    const c = confidence[i];
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(c * bins) - 1));
    count[b]++;
    confSum[b] += c;
    if (correct[i]) hits[b]++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]) ece += (Math.abs(hits[b] / count[b] - confSum[b] / count[b]) * count[b]) / n;
  return ece;
}

/** Nearest-rank percentile of `values` (p in [0, 100]). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** All scores at once from labels, predicted classes and the predicted class's probability. */
export function scoreClassification(truth: ArrayLike<number>, predicted: ArrayLike<number>, confidence: ArrayLike<number>): ClassificationScores {
  const confusion = confusionMatrix(truth, predicted);
  const per = perClassScores(confusion);
  const correct = Array.from({ length: truth.length }, (_, i) => truth[i] === predicted[i]);
  return {
    count: truth.length,
    accuracy: accuracyOf(confusion),
    macroF1: macroF1Of(per),
    perClass: Object.fromEntries(LABELS.map((l, i) => [l, per[i]])) as Record<Label, ClassScores>,
    confusion,
    ece: expectedCalibrationError(confidence, correct),
  };
}
