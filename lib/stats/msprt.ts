/**
 * The normal-mixture sequential probability ratio test (mSPRT) of Johari, Koomen, Pekelis and Walsh, "Peeking at A/B
 * tests" (KDD 2017; Operations Research 2022), for an estimate that is approximately normal with a known variance.
 * Its always-valid p-value may be read after every new observation without inflating the false-alarm rate: the
 * probability that it ever drops to alpha under the null is at most alpha, however often one looks.
 */

export interface SequentialEstimate {
  /** The observed effect (e.g. canary error rate minus stable's). */
  estimate: number;
  /** Always-valid p-value of "no effect" (two-sided). */
  pValue: number;
  /** Always-valid confidence interval at level 1 - alpha: covers the true effect at every look at once. */
  low: number;
  high: number;
}

/**
 * The mSPRT mixture likelihood ratio of effect theta0 against the estimate, with a N(theta0, tau^2) mixing prior:
 * Lambda = sqrt(V / (V + tau^2)) exp(tau^2 (estimate - theta0)^2 / (2 V (V + tau^2))) (Johari et al., eq. 11 with
 * V = sigma^2 / n). Exported for tests.
 */
export function mixtureLikelihoodRatio(estimate: number, variance: number, tau2: number, theta0 = 0): number {
  const v = variance;
  return Math.sqrt(v / (v + tau2)) * Math.exp((tau2 * (estimate - theta0) ** 2) / (2 * v * (v + tau2)));
}

/**
 * p-value min(1, 1 / Lambda) and the interval {theta0 : Lambda(theta0) < 1 / alpha}, the inversion of the test;
 * tau2 is the squared size of the effects the test should find fastest.
 */
export function mixtureSprt(estimate: number, variance: number, tau2: number, alpha: number): SequentialEstimate {
  if (!(variance > 0) || !(tau2 > 0)) throw new RangeError(`mixtureSprt: variance ${variance} and tau2 ${tau2} must be positive`);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`mixtureSprt: alpha ${alpha} is outside (0, 1)`);
  const v = variance;
  const pValue = Math.min(1, 1 / mixtureLikelihoodRatio(estimate, v, tau2));
  const half = Math.sqrt(((2 * v * (v + tau2)) / tau2) * (Math.log(1 / alpha) + 0.5 * Math.log((v + tau2) / v)));
  return { estimate, pValue, low: estimate - half, high: estimate + half };
}
