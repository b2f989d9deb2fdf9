import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { curvesSvg } from '../../activities/train/curves-png';

describe('training curves', () => {
  it('when epochs are given, then each of the three curves has one point per epoch', () => {
    const h = [1, 2, 3].map((epoch) => ({ epoch, train_loss: 2 / epoch, val_loss: 2.1 / epoch, val_accuracy: 0.2 * epoch }));
    const svg = curvesSvg(h, 'run <1>');
    const lines = [...svg.matchAll(/points="([^"]+)"/g)].map((m) => m[1].split(' ').length);
    assert.deepEqual(lines, [3, 3, 3]);
    assert.match(svg, /run &lt;1>/, 'the title is escaped');
  });
  it('when there is no epoch, then it refuses with a clear error', () => {
    assert.throws(() => curvesSvg([], 't'), /no epochs/);
  });
});
