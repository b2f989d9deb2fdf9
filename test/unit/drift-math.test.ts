import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  binIndex, compareFeatures, cropStats, emptyFeatures, featuresOfImages, histogram, psi, BRIGHTNESS_RANGE, CONTRAST_RANGE,
} from '../../lib/drift';

const close = (a: number, b: number, tol = 1e-4) => assert.ok(Math.abs(a - b) < tol, `${a} != ${b}`);

describe('psi', () => {
  test('when both histograms are identical (even in scale), then PSI is 0', () => {
    assert.equal(psi([10, 20, 30], [1, 2, 3]), 0);
  });
  test('when 50/50 shifts to 90/10 without smoothing, then PSI is 0.4 ln 1.8 + 0.4 ln 5', () => {
    close(psi([50, 50], [90, 10], 0), 0.4 * Math.log(1.8) + 0.4 * Math.log(5));
  });
  test('when a bin is empty on one side, then epsilon keeps PSI finite and the direction symmetric in size', () => {
    const v = psi([100, 0], [99, 1]);
    assert.ok(Number.isFinite(v) && v > 0 && v < 0.1, String(v));
    assert.equal(psi([100, 0], [100, 0]), 0);
  });
  test('when histograms differ in length or one is empty, then it throws a clear error', () => {
    assert.throws(() => psi([1, 2], [1, 2, 3]), /same, non-zero length/);
    assert.throws(() => psi([0, 0], [1, 2]), /empty/);
    assert.throws(() => psi([1, -1], [1, 2]), /non-negative/);
  });
});

describe('binning and crop statistics', () => {
  test('when values sit on edges or outside the range, then they land in the first/last bin', () => {
    assert.equal(binIndex(0, BRIGHTNESS_RANGE), 0);
    assert.equal(binIndex(0.1, BRIGHTNESS_RANGE), 1);
    assert.equal(binIndex(1, BRIGHTNESS_RANGE), 9);
    assert.equal(binIndex(-3, BRIGHTNESS_RANGE), 0);
    assert.equal(binIndex(0.26, CONTRAST_RANGE), 5);
    assert.deepEqual(histogram([0.05, 0.05, 0.95], BRIGHTNESS_RANGE), [2, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });
  test('when a crop is half black, half white, then brightness is 0.5 and contrast 0.5', () => {
    const s = cropStats([0, 255, 0, 255]);
    close(s.brightness, 0.5);
    close(s.contrast, 0.5);
    const flat = cropStats(new Uint8Array(48 * 48).fill(51));
    close(flat.brightness, 0.2);
    close(flat.contrast, 0);
  });
});

describe('dataset features and comparison', () => {
  const faces = (values: number[]) => {
    const px = 48 * 48;
    const images = new Uint8Array(values.length * px);
    values.forEach((v, i) => images.fill(v, i * px, (i + 1) * px));
    return images;
  };
  test('when a split is binned, then labels, brightness and contrast histograms count each face once', () => {
    const f = featuresOfImages(faces([0, 128, 255]), Uint8Array.from([0, 3, 3]), 3);
    assert.deepEqual(f.classes, [1, 0, 0, 2, 0, 0, 0]);
    assert.deepEqual(f.brightness, [1, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
    assert.equal(f.contrast[0], 3);
    assert.throws(() => featuresOfImages(faces([0]), Uint8Array.from([0, 1]), 2), /do not make 2 faces/);
  });
  test('when live traffic is much darker than the baseline with enough samples, then brightness is the drifted feature', () => {
    const baseline = featuresOfImages(faces(Array.from({ length: 100 }, (_, i) => 60 + i)), new Uint8Array(100).fill(3), 100);
    const live = featuresOfImages(faces(new Array(50).fill(10)), new Uint8Array(50).fill(3), 50);
    const r = compareFeatures(baseline, live, { psi: 0.25, minSamples: 30 });
    assert.equal(r.samples, 50);
    assert.equal(r.psi.classes, 0);
    assert.ok((r.psi.brightness ?? 0) > 1, JSON.stringify(r.psi));
    assert.deepEqual(r.driftedFeatures, ['brightness']);
    assert.equal(r.drifted, true);
    assert.equal(r.maxPsi, r.psi.brightness);
  });
  test('when drift is large but samples are below the minimum, then it is reported but not declared', () => {
    const baseline = featuresOfImages(faces([100, 120, 140]), Uint8Array.from([0, 1, 2]), 3);
    const live = featuresOfImages(faces([5, 5]), Uint8Array.from([6, 6]), 2);
    const r = compareFeatures(baseline, live, { psi: 0.25, minSamples: 30 });
    assert.equal(r.enoughSamples, false);
    assert.equal(r.drifted, false);
    assert.ok(r.driftedFeatures.length > 0);
  });
  test('when there is no live traffic, then PSI is null and nothing drifts', () => {
    const r = compareFeatures(featuresOfImages(faces([100]), Uint8Array.from([0]), 1), emptyFeatures(), { psi: 0.25, minSamples: 1 });
    assert.deepEqual(r.psi, { classes: null, brightness: null, contrast: null });
    assert.equal(r.maxPsi, null);
    assert.equal(r.drifted, false);
  });
});
