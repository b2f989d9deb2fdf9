import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import {
  accuracyOf,
  confusionMatrix,
  confusionSvg,
  expectedCalibrationError,
  macroF1Of,
  perClassScores,
  percentile,
  scoreClassification,
} from '../../activities/evaluate';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

describe('classification metrics', () => {
  it('when counting a 3-class example, then confusion, P/R/F1, accuracy and macro-F1 match a hand computation', () => {
    const truth = [0, 0, 0, 1, 1, 2];
    const pred = [0, 0, 1, 1, 2, 2];
    const m = confusionMatrix(truth, pred, 3);
    assert.deepEqual(m, [[2, 1, 0], [0, 1, 1], [0, 0, 1]]);
    const s = perClassScores(m);
    close(s[0].precision, 1); close(s[0].recall, 2 / 3); close(s[0].f1, 0.8);
    close(s[1].precision, 0.5); close(s[1].recall, 0.5); close(s[1].f1, 0.5);
    close(s[2].precision, 0.5); close(s[2].recall, 1); close(s[2].f1, 2 / 3);
    assert.deepEqual(s.map((c) => c.support), [3, 2, 1]);
    close(accuracyOf(m), 4 / 6);
    close(macroF1Of(s), (0.8 + 0.5 + 2 / 3) / 3);
  });

  it('when a class is never predicted or never present, then its scores are 0, not NaN, and absent classes leave macro-F1 alone', () => {
    const m = confusionMatrix([0, 0, 1], [0, 0, 0], 3);
    const s = perClassScores(m);
    assert.deepEqual(s[1], { precision: 0, recall: 0, f1: 0, support: 1 });
    assert.deepEqual(s[2], { precision: 0, recall: 0, f1: 0, support: 0 });
    close(macroF1Of(s), (0.8 + 0) / 2);
  });

  it('when a label is out of range or lengths differ, then it throws', () => {
    assert.throws(() => confusionMatrix([0, 7], [0, 0]), /label 7/);
    assert.throws(() => confusionMatrix([0], [0, 1]), /1 labels vs 2/);
    assert.throws(() => confusionMatrix([0], [9]), /prediction 9/);
  });
});

describe('calibration and percentiles', () => {
  it('when confidences equal accuracy per bin, then ECE is 0; when overconfident, the gap is weighted', () => {
    close(expectedCalibrationError([1, 1], [true, true]), 0);
    // One bin (0.9): 2 of 4 right -> |0.5 - 0.9| = 0.4.
    close(expectedCalibrationError([0.9, 0.9, 0.9, 0.9], [true, false, true, false]), 0.4);
    // Two bins, half the samples each: |1 - 0.95| * 0.5 + |0 - 0.3| * 0.5.
    close(expectedCalibrationError([0.95, 0.95, 0.3, 0.3], [true, true, false, false]), 0.025 + 0.15);
    assert.equal(expectedCalibrationError([], []), 0);
  });

  it('when asking for p50 and p99, then nearest-rank values come back', () => {
    const v = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.equal(percentile(v, 50), 50);
    assert.equal(percentile(v, 99), 99);
    assert.equal(percentile([7], 99), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('when scoring 7-class predictions, then the report is keyed by label names', () => {
    const r = scoreClassification([3, 3, 6], [3, 4, 6], [0.9, 0.6, 0.8]);
    assert.equal(r.count, 3);
    close(r.accuracy, 2 / 3);
    assert.equal(r.perClass.happy.support, 2);
    assert.equal(r.perClass.neutral.f1, 1);
    assert.equal(r.confusion.length, 7);
  });
});

describe('confusion heat-map', () => {
  it('when rendered, then the SVG names every class and sharp turns it into a PNG', async () => {
    const m = Array.from({ length: 7 }, (_, r) => Array.from({ length: 7 }, (_, c) => (r === c ? 10 : 1)));
    const svg = confusionSvg(m, 'test <title>');
    for (const l of ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral', 'predicted', 'true']) assert.ok(svg.includes(`>${l}<`), l);
    assert.ok(svg.includes('test &lt;title&gt;'));
    const meta = await sharp(await sharp(Buffer.from(svg)).png().toBuffer()).metadata();
    assert.equal(meta.format, 'png');
    assert.ok((meta.width ?? 0) > 400 && (meta.height ?? 0) > 400);
    assert.throws(() => confusionSvg([[1]], 'x'), /7x7/);
  });
});
