import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../activities/ingest/synthetic/prng';
import {
  GAMMA, MIN_MS, RELATIVE_ACCURACY, addToSketch, emptySketch, mergeSketches, sketchCount, sketchQuantile, type LatencySketch,
} from '../../lib/latency-sketch';

/** Latencies spread over four decades (log-normal around 20 ms), plus some at and below the zero bucket's bound. */
function latencies(seed: number, n: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => (rng.chance(0.01) ? rng.uniform(0, MIN_MS) : Math.exp(3 + 1.5 * rng.normal())));
}

function sketchOf(values: number[]): LatencySketch {
  const s = emptySketch();
  for (const v of values) addToSketch(s, v);
  return s;
}

/** The nearest-rank quantile of the raw values, the definition the sketch approximates. */
function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

const QUANTILES = [0, 0.01, 0.1, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1];

describe('latency sketch', () => {
  it('when gamma is derived from the stated accuracy, then a bucket representative is within it of both bucket ends', () => {
    const representative = (2 * GAMMA) / (GAMMA + 1); // bucket 1 covers (1, gamma]
    assert.ok(Math.abs(representative - 1) / representative <= RELATIVE_ACCURACY + 1e-12);
    assert.ok(Math.abs(representative - GAMMA) / GAMMA <= RELATIVE_ACCURACY + 1e-12);
  });

  it('when seeded random latencies are sketched, then every quantile is within the relative accuracy of the exact one', () => {
    for (const seed of [1, 2, 3]) {
      const values = latencies(seed, 5000);
      const s = sketchOf(values);
      assert.equal(sketchCount(s), values.length);
      for (const q of QUANTILES) {
        const exact = exactQuantile(values, q);
        const got = sketchQuantile(s, q)!;
        if (exact <= MIN_MS) assert.equal(got, 0, `seed ${seed} q ${q}: values in the zero bucket read as 0`);
        else assert.ok(Math.abs(got - exact) <= exact * RELATIVE_ACCURACY * (1 + 1e-9), `seed ${seed} q ${q}: ${got} vs ${exact}`);
      }
    }
  });

  it('when shards are merged, then the result has exactly the counts of one sketch of their union', () => {
    const values = latencies(4, 3000);
    const shards = [values.slice(0, 1000), values.slice(1000, 1200), values.slice(1200)].map(sketchOf);
    const merged = shards.reduce(mergeSketches);
    assert.deepEqual(merged, sketchOf(values));
    for (const q of QUANTILES) assert.equal(sketchQuantile(merged, q), sketchQuantile(sketchOf(values), q));
  });

  it('when merged in any grouping or order, then the sketch is the same', () => {
    const [a, b, c] = [5, 6, 7].map((seed) => sketchOf(latencies(seed, 500)));
    assert.deepEqual(mergeSketches(mergeSketches(a, b), c), mergeSketches(a, mergeSketches(b, c)));
    assert.deepEqual(mergeSketches(a, b), mergeSketches(b, a));
    assert.deepEqual(mergeSketches(a, emptySketch()), a);
  });

  it('when merging, then neither input is changed', () => {
    const a = sketchOf([1, 2, 3]);
    const before = structuredClone(a);
    mergeSketches(a, sketchOf([2, 40]));
    assert.deepEqual(a, before);
  });

  it('when the sketch is empty, then every quantile is null', () => {
    for (const q of QUANTILES) assert.equal(sketchQuantile(emptySketch(), q), null);
  });

  it('when a sketch goes through JSON, then it reads the same', () => {
    const s = sketchOf(latencies(8, 200));
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  });

  it('when sketches of different gamma are merged, then it refuses with a clear error', () => {
    const coarse = { ...emptySketch(), gamma: 1.1 };
    assert.throws(() => mergeSketches(emptySketch(), coarse), /different resolutions: gamma 1\.0202\d* and 1\.1/);
  });

  it('when a value is not a latency or q is outside [0, 1], then it throws', () => {
    assert.throws(() => addToSketch(emptySketch(), Number.NaN), RangeError);
    assert.throws(() => addToSketch(emptySketch(), Infinity), RangeError);
    assert.throws(() => sketchQuantile(sketchOf([1]), 1.5), RangeError);
  });
});
