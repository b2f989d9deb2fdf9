import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyseWindow, jensenShannon } from '../../lib/canary-analysis';
import { DEFAULT_PIPELINE_INPUT } from '../../lib/pipeline-input';
import type { SlotWindowStats, WindowStats } from '../../activities/types';

const T = DEFAULT_PIPELINE_INPUT.rollout.thresholds;
const slot = (o: Partial<SlotWindowStats> = {}): SlotWindowStats => ({
  requests: 100, errors: 0, latencyMs: { p50: 10, p95: 20, p99: 30 },
  classCounts: { happy: 50, sad: 30, neutral: 20 }, meanConfidence: 0.7, faces: 100, ...o,
});
const window = (canary: Partial<SlotWindowStats>, shadow = { compared: 0, agreement: 0, errors: 0 }): WindowStats => ({ stable: slot(), canary: slot(canary), shadow });

describe('canary analysis', () => {
  it('when the canary looks like stable, then the window passes', () => {
    assert.equal(analyseWindow(window({}), 'traffic', 20, T).verdict, 'pass');
  });
  it('when the canary errors, then the window fails even with few requests', () => {
    const a = analyseWindow(window({ requests: 3, errors: 2 }), 'traffic', 20, T);
    assert.equal(a.verdict, 'fail');
    assert.match(a.reasons[0], /error rate/);
  });
  it('when too few canary requests arrived, then the window is inconclusive', () => {
    assert.equal(analyseWindow(window({ requests: 5 }), 'traffic', 20, T).verdict, 'inconclusive');
  });
  it('when the canary answers one class only, then the class divergence fails it', () => {
    const a = analyseWindow(window({ classCounts: { angry: 100 } }), 'traffic', 20, T);
    assert.equal(a.verdict, 'fail');
    assert.ok(a.numbers.classDivergence > T.maxClassDivergence);
  });
  it('when only a few faces were answered, then class divergence (mostly noise then) is not judged', () => {
    const a = analyseWindow(window({ requests: 30, faces: 30, classCounts: { angry: 30 } }), 'traffic', 20, T);
    assert.equal(a.verdict, 'pass');
  });
  it('when the canary is 3x slower by only a few milliseconds, then that noise does not fail it', () => {
    const a = analyseWindow({ ...window({ latencyMs: { p50: 2, p95: 3, p99: 4 } }), stable: slot({ latencyMs: { p50: 1, p95: 1, p99: 2 } }) }, 'traffic', 20, T);
    assert.equal(a.verdict, 'pass');
  });
  it('when the canary is much slower, then the latency ratio fails it', () => {
    const a = analyseWindow(window({ latencyMs: { p50: 50, p95: 100, p99: 120 } }), 'traffic', 20, T);
    assert.equal(a.verdict, 'fail');
    assert.equal(a.numbers.latencyRatio, 5);
  });
  it('when shadow agreement is low, then the shadow phase fails', () => {
    const a = analyseWindow(window({ requests: 0 }, { compared: 50, agreement: 0.2, errors: 0 }), 'shadow', 20, T);
    assert.equal(a.verdict, 'fail');
  });
  it('when the canary fails on mirrored requests, then the shadow phase fails though clients saw nothing', () => {
    const a = analyseWindow(window({ requests: 0 }, { compared: 40, agreement: 1, errors: 3 }), 'shadow', 20, T);
    assert.equal(a.verdict, 'fail');
    assert.match(a.reasons[0], /error rate/);
  });
  it('when shadow has compared enough requests that agree, then the shadow phase passes on mirrored traffic', () => {
    assert.equal(analyseWindow(window({ requests: 0 }, { compared: 50, agreement: 0.9, errors: 0 }), 'shadow', 20, T).verdict, 'pass');
  });
});

describe('jensenShannon', () => {
  it('when distributions are equal, then it is 0; when disjoint, then it is 1', () => {
    assert.equal(jensenShannon({ a: 1, b: 1 }, { a: 5, b: 5 }), 0);
    assert.ok(Math.abs(jensenShannon({ a: 1 }, { b: 1 }) - 1) < 1e-12);
  });
});
