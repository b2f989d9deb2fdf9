/**
 * Confidence bounds on a proportion measured on n samples (an accuracy on a test split, an agreement rate), so a
 * threshold is judged on what the sample can show: 28/32 is not the same evidence as 875/1000.
 */

/** One-sided 95 % z value. */
export const Z_ONE_SIDED_95 = 1.6449;

/** Wilson score lower bound: with the confidence of `z`, the true rate is at least this. */
export function wilsonLowerBound(rate: number, n: number, z = Z_ONE_SIDED_95): number {
  if (n <= 0) return 0;
  const centre = rate + (z * z) / (2 * n);
  const spread = z * Math.sqrt((rate * (1 - rate)) / n + (z * z) / (4 * n * n));
  return Math.max(0, (centre - spread) / (1 + (z * z) / n));
}
