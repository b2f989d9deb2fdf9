/**
 * An always-valid test that one arm's events (errors) come at a higher rate than the other's, from event counts in
 * strata of known exposure (each phase of a rollout splits requests differently). Under the null (equal rates)
 * each event lands on arm A with probability pi, A's share of the stratum's requests; under a rate ratio r, with
 * s(r) = pi r / (pi r + 1 - pi). The likelihood ratio of r against 1, a product over events, is a nonnegative
 * martingale under the null, and so is any fixed mixture of them: by Ville's inequality it reaches 1/alpha with
 * probability at most alpha, however often it is read (Ramdas et al., "Game-theoretic statistics and safe
 * anytime-valid inference", Statistical Science 2023, section 3; Lindon and Malek, NeurIPS 2022, for counts).
 */

export interface EventStratum { eventsA: number; eventsB: number; shareA: number }

/** The rate ratios mixed, with equal weights: from a mild regression to an arm that fails almost every request. */
const RATE_RATIOS = [1.5, 2, 3, 5, 10, 100];

/** Always-valid p-value min(1, 1 / Lambda) that arm A's event rate exceeds arm B's, pooled over the strata. */
export function rateRatioP(strata: readonly EventStratum[], ratios: readonly number[] = RATE_RATIOS): number {
  for (const s of strata) {
    if (!(s.shareA > 0 && s.shareA < 1)) throw new RangeError(`rateRatioP: share ${s.shareA} is outside (0, 1)`);
    if (![s.eventsA, s.eventsB].every((n) => Number.isInteger(n) && n >= 0)) {
      throw new RangeError(`rateRatioP: event counts ${s.eventsA}, ${s.eventsB} must be non-negative integers`);
    }
  }
  const logs = ratios.map((r) =>
    strata.reduce((sum, { eventsA, eventsB, shareA: pi }) => {
      const s = (pi * r) / (pi * r + 1 - pi);
      return sum + eventsA * Math.log(s / pi) + eventsB * Math.log((1 - s) / (1 - pi));
    }, 0),
  );
  const top = Math.max(...logs);
  const logLambda = top + Math.log(logs.reduce((sum, l) => sum + Math.exp(l - top), 0) / ratios.length);
  return Math.min(1, Math.exp(-logLambda));
}
