import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mannWhitneyBinned } from '../../lib/stats/mann-whitney';
import { mixtureLikelihoodRatio, mixtureSprt } from '../../lib/stats/msprt';
import { noncentralChisquareSf } from '../../lib/stats/noncentral-chisquare';
import { rateRatioP } from '../../lib/stats/rate-ratio-sprt';
import { prng } from '../../bench/canary-sim';

const bins = (xs: number[]) => {
  const m = new Map<number, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
};

describe('Mann-Whitney U on binned samples', () => {
  it('when the samples have no ties, then U and the p-value match the published example', () => {
    // Conover, "Practical Nonparametric Statistics", as quoted in scipy.stats.mannwhitneyu's documentation:
    // U = 17, asymptotic two-sided p = 0.11134688653314041 (continuity corrected).
    const r = mannWhitneyBinned(bins([19, 22, 16, 29, 24]), bins([20, 11, 17, 12]));
    assert.equal(r.u, 17);
    assert.ok(Math.abs(r.pTwoSided - 0.11134688653314041) < 1e-9, String(r.pTwoSided));
  });
  it('when values tie (one bin), then the tie-corrected variance matches scipy', () => {
    // scipy 1.17.1: mannwhitneyu([1,2,2,3,3,3,5], [2,3,4,4,4,6], method='asymptotic') -> U 10.5, p 0.14285007956105955.
    const r = mannWhitneyBinned(bins([1, 2, 2, 3, 3, 3, 5]), bins([2, 3, 4, 4, 4, 6]));
    assert.equal(r.u, 10.5);
    assert.ok(Math.abs(r.pTwoSided - 0.14285007956105955) < 1e-9, String(r.pTwoSided));
  });
  it('when a sample is empty, then it says so instead of dividing by zero', () => {
    assert.throws(() => mannWhitneyBinned(new Map(), bins([1])), /empty sample/);
  });
});

describe('mixture SPRT (always-valid p-values)', () => {
  it('when evaluated, then the likelihood ratio is the closed form of Johari et al.', () => {
    // V = 1, tau^2 = 1, estimate 2: sqrt(1/2) exp(1 * 4 / (2 * 1 * 2)) = 0.70711 e.
    assert.ok(Math.abs(mixtureLikelihoodRatio(2, 1, 1) - Math.SQRT1_2 * Math.E) < 1e-12);
    const s = mixtureSprt(2, 1, 1, 0.05);
    assert.ok(Math.abs(s.pValue - 1 / (Math.SQRT1_2 * Math.E)) < 1e-12);
    // The interval is where the test would not reject: its ends have Lambda = 1 / alpha exactly.
    assert.ok(Math.abs(mixtureLikelihoodRatio(2, 1, 1, s.high) - 20) < 1e-9);
    assert.ok(Math.abs(mixtureLikelihoodRatio(2, 1, 1, s.low) - 20) < 1e-9);
  });
  it('when the null holds and one looks after every observation, then it rejects at most alpha of the time', () => {
    // 2,000 streams of 200 N(0, 1) observations, a look after each: a fixed-sample z test would reject in ~40 %.
    const rnd = prng(7);
    const normal = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    let rejected = 0;
    for (let run = 0; run < 2000; run++) {
      let sum = 0;
      for (let n = 1; n <= 200; n++) {
        sum += normal();
        if (mixtureSprt(sum / n, 1 / n, 0.1, 0.05).pValue <= 0.05) {
          rejected++;
          break;
        }
      }
    }
    assert.ok(rejected / 2000 <= 0.05, `rejected ${rejected} of 2000`);
  });
  it('when given a zero variance or an alpha outside (0, 1), then it refuses', () => {
    assert.throws(() => mixtureSprt(1, 0, 1, 0.05), /variance/);
    assert.throws(() => mixtureSprt(1, 1, 1, 1), /alpha/);
  });
});

describe('rate ratio test over strata (mixture martingale)', () => {
  it('when one ratio is mixed, then the p-value is 1 / Lambda in closed form', () => {
    // pi = 0.5, r = 2: s = 2/3, Lambda = (4/3)^15 for 15 events on A and none on B.
    assert.ok(Math.abs(rateRatioP([{ eventsA: 15, eventsB: 0, shareA: 0.5 }], [2]) - (3 / 4) ** 15) < 1e-12);
    // Two strata multiply: (4/3)^3 * ((1/3) / (1/2))^1 with the second stratum's share 0.5 as well.
    const two = rateRatioP([{ eventsA: 3, eventsB: 0, shareA: 0.5 }, { eventsA: 0, eventsB: 1, shareA: 0.5 }], [2]);
    assert.ok(Math.abs(two - 1 / ((4 / 3) ** 3 * (2 / 3))) < 1e-12);
  });
  it('when arm A has fewer events than its share, then there is no evidence against it', () => {
    assert.equal(rateRatioP([{ eventsA: 1, eventsB: 9, shareA: 0.5 }]), 1);
    assert.equal(rateRatioP([]), 1);
  });
  it('when events are split by exposure under the null, then looking after each one rejects at most alpha of the time', () => {
    const rnd = prng(11);
    let rejected = 0;
    for (let run = 0; run < 2000; run++) {
      const strata = [{ eventsA: 0, eventsB: 0, shareA: 0.5 }, { eventsA: 0, eventsB: 0, shareA: 0.05 }];
      for (let n = 1; n <= 300; n++) {
        const stratum = strata[n % 2];
        if (rnd() < stratum.shareA) stratum.eventsA++;
        else stratum.eventsB++;
        if (rateRatioP(strata) <= 0.05) {
          rejected++;
          break;
        }
      }
    }
    assert.ok(rejected / 2000 <= 0.05, `rejected ${rejected} of 2000`);
  });
  it('when counts or shares are malformed, then it refuses', () => {
    assert.throws(() => rateRatioP([{ eventsA: 1.5, eventsB: 0, shareA: 0.5 }]), /non-negative integers/);
    assert.throws(() => rateRatioP([{ eventsA: 1, eventsB: 0, shareA: 1 }]), /share/);
  });
});

// Reference values: scipy 1.17.1, scipy.stats.ncx2.sf(x, df, nc) (chi2.sf where nc is 0).
const SCIPY: [x: number, df: number, lambda: number, sf: number][] = [
  [23, 6, 20.5, 0.6072068428121492],
  [60, 6, 20.5, 0.002555785358840741],
  [5, 1, 2, 0.2057108563434708],
  [10, 3, 0, 0.01856613546304325],
  [31, 6, 0, 2.5349284491740774e-5],
  // A tiny tail keeps its precision (1 - cdf would read 0), and a large noncentrality (thousands of faces) sums right.
  [200, 3, 13.9, 4.092274236561562e-25],
  [1500, 6, 1386, 0.07564761963005107],
  [1700, 6, 1386, 4.1039571424695774e-5],
];

describe('noncentral chi-square survival function', () => {
  for (const [x, df, lambda, sf] of SCIPY) {
    it(`when x ${x}, df ${df}, lambda ${lambda}, then it matches scipy to 1e-9 relative`, () => {
      const got = noncentralChisquareSf(x, df, lambda);
      assert.ok(Math.abs(got - sf) <= 1e-9 * sf, `${got} vs ${sf}`);
    });
  }
  it('when x is at or below 0, then every outcome is at least as large', () => {
    assert.equal(noncentralChisquareSf(0, 6, 20), 1);
  });
  it('when the degrees of freedom or the noncentrality are invalid, then it says so rather than answering NaN', () => {
    assert.throws(() => noncentralChisquareSf(3, 0, 1), /df 0/);
    assert.throws(() => noncentralChisquareSf(3, 2, -1), /lambda -1/);
    assert.throws(() => noncentralChisquareSf(Number.NaN, 2, 1), /x NaN/);
  });
});
