import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { noncentralChisquareSf } from '../../lib/stats/noncentral-chisquare';

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
