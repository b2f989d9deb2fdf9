import gammainc from '@stdlib/math-base-special-gammainc';

/**
 * P(X >= x) for X noncentral chi-square with `df` degrees of freedom and noncentrality `lambda`: the Poisson(lambda / 2)
 * mixture of central chi-squares with df + 2j degrees of freedom (Johnson, Kotz & Balakrishnan, ch. 29). Each central
 * term is the upper regularised incomplete gamma, so tiny p-values keep their precision. lambda 0 is the central test.
 */
export function noncentralChisquareSf(x: number, df: number, lambda: number): number {
  if (!(df > 0) || !(lambda >= 0) || Number.isNaN(x)) throw new Error(`noncentral chi-square: df ${df} must be positive, lambda ${lambda} at least 0 and x ${x} a number`);
  if (x <= 0) return 1;
  const half = lambda / 2;
  // The Poisson weights beyond mean + 12 sd (and a margin for small means) sum to far below 1e-16.
  const last = Math.ceil(half + 12 * Math.sqrt(half) + 30);
  let logWeight = -half;
  let sf = 0;
  for (let j = 0; j <= last; j++) {
    if (j > 0) logWeight += Math.log(half) - Math.log(j);
    const weight = Math.exp(logWeight);
    if (weight > 0) sf += weight * gammainc(x / 2, df / 2 + j, true, true);
  }
  return Math.min(1, sf);
}
