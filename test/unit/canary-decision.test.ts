import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Analysis } from '../../lib/canary-analysis';
import { afterLook, phaseLooks, worthRecording } from '../../lib/canary-decision';

const analysis = (verdict: Analysis['verdict']): Analysis => ({ verdict, reasons: [`${verdict} because`], numbers: {} });

describe('canary decision loop', () => {
  it('when a window is 20 s with two extensions, then it is looked at every 5 s and each window end is final', () => {
    const looks = phaseLooks(20, 2);
    assert.deepEqual(looks.map((l) => l.elapsedSeconds), [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]);
    assert.deepEqual(looks.filter((l) => l.final).map((l) => `${l.attempt}@${l.elapsedSeconds}`), ['1@20', '2@40', '3@60']);
  });
  it('when a window is shorter than the looks, then looks stay whole seconds apart and at least 1 s long', () => {
    assert.deepEqual(phaseLooks(1, 1).map((l) => [l.elapsedSeconds, l.final]), [[1, true], [2, true]]);
    assert.deepEqual(phaseLooks(3, 0).map((l) => l.elapsedSeconds), [1, 2, 3]);
  });
  it('when an interim look is inconclusive, then it looks again; when the last window end is, then it fails safe', () => {
    const [first] = phaseLooks(20, 1);
    const last = phaseLooks(20, 1).at(-1)!;
    assert.deepEqual(afterLook(analysis('inconclusive'), first, 1), { next: 'look-again' });
    assert.equal(worthRecording(first, { next: 'look-again' }), false);
    const outcome = afterLook(analysis('inconclusive'), last, 1);
    assert.deepEqual(outcome, { next: 'fail', reason: 'inconclusive after 2 windows: inconclusive because' });
    assert.equal(worthRecording(last, outcome), true);
  });
  it('when a look fails or passes, then the phase ends there, whatever look it was', () => {
    const [first] = phaseLooks(20, 2);
    assert.deepEqual(afterLook(analysis('fail'), first, 2), { next: 'fail', reason: 'fail because' });
    assert.deepEqual(afterLook(analysis('pass'), first, 2), { next: 'pass' });
  });
});
