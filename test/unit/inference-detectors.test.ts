import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { getPhotos } from '../../infra/photos';
import { loadConfig } from '../../services/inference/config';
import { loadCascades } from '../../services/inference/runtime/cv';
import { decodeGray } from '../../services/inference/runtime/decode';
import { DETECTOR_NAMES, type DetectorSettings, loadDetector, SMALL_FACE_DETECTORS } from '../../services/inference/runtime/detectors';
import { faceSetup } from '../../services/inference/runtime/faces';

// The detector contract: every registered detector is chosen by FEROPS_FACE_DETECTOR, takes its options from the
// config keys (whose defaults live only in services/inference/config.ts) and answers boxes in full-size pixels.

describe('face detectors', () => {
  it('when the config sets the detection keys, then each detector gets them as its options and the eye search its angles', () => {
    const keys = { faceDetectorModel: '/models/d.onnx', detectMaxSide: 640, detectMinScore: 0.4, detectAngles: [0, 15], detectTilts: [-30, 30], detectMinFace: 32, detectSearchPixels: 500_000 };
    const cnn = faceSetup(loadConfig({ ...keys, faceDetector: 'cnn' }));
    assert.deepEqual(cnn.detector, { name: 'cnn', options: { modelFile: '/models/d.onnx', maxSide: 640, minScore: 0.4, tilts: [-30, 30], minFace: 32, searchPixels: 500_000 } });
    assert.deepEqual(cnn.eyeTilts, [0, 15]);
    const blazeface = faceSetup(loadConfig({ ...keys, faceDetector: 'blazeface' }));
    assert.deepEqual(blazeface.detector, { name: 'blazeface', options: { modelFile: '/models/d.onnx', minScore: 0.4, minFace: 32, searchPixels: 500_000 } });
    const haar = faceSetup(loadConfig({ ...keys, faceDetector: 'haar' }));
    assert.equal(haar.detector.name, 'haar');
    assert.equal(haar.detector.options.maxSide, 640);
    assert.deepEqual(haar.detector.options.angles, [0, 15]);
  });

  it('when nothing is configured, then the defaults are the config schema\'s (BlazeFace, score 0.25, no small-face search)', () => {
    const { detector, eyeTilts, landmarkModel, verifier } = faceSetup(loadConfig({}, {}));
    assert.ok(detector.name === 'blazeface', detector.name);
    assert.equal(detector.options.minScore, 0.25);
    assert.equal(detector.options.minFace, 0);
    assert.equal(detector.options.searchPixels, 80_000);
    assert.deepEqual(eyeTilts, [0, -20, 20]);
    // BlazeFace's faces are aligned on landmarks and checked by the verifier, as the Tiny Face Detector's are.
    assert.match(landmarkModel ?? '', /face_landmark_68\.onnx$/);
    assert.equal(verifier?.minScore, 0.2);
    const cnn = faceSetup(loadConfig({ faceDetector: 'cnn' }, {})).detector;
    assert.ok(cnn.name === 'cnn', cnn.name);
    assert.equal(cnn.options.maxSide, 512);
    assert.deepEqual(cnn.options.tilts, []);
  });

  for (const name of DETECTOR_NAMES) {
    it(`when the ${name} detector searches a real portrait, then it answers the one face in full-size pixels`, async () => {
      const setup = faceSetup(loadConfig({ faceDetector: name }));
      const detector = await loadDetector(setup.detector, () => loadCascades(setup.cascadeDir));
      try {
        const img = await decodeGray(readFileSync(getPhotos().graceHopper), 40e6);
        // Boxes a detector doubts (BlazeFace's under FEROPS_DETECT_MIN_SCORE) are left to the verifier to confirm.
        const found = (await detector.detect(img)).found.filter((d) => d.minFaceScore === undefined);
        assert.equal(found.length, 1, JSON.stringify(found));
        const { box } = found[0];
        // The face fills the upper middle of the portrait: its box is large and lies inside the image.
        assert.ok(box.width > img.width / 5 && box.x >= 0 && box.y >= 0, JSON.stringify(box));
        assert.ok(box.x + box.width <= img.width && box.y + box.height <= img.height, JSON.stringify(box));
      } finally {
        await detector.close();
      }
    });
  }

  it('when a detector has a small-face search, then it says so and answers for it; Haar has none', async () => {
    assert.deepEqual(SMALL_FACE_DETECTORS, ['blazeface', 'cnn']);
    for (const name of DETECTOR_NAMES) {
      const setup = faceSetup(loadConfig({ faceDetector: name }));
      const detector = await loadDetector(setup.detector, () => loadCascades(setup.cascadeDir));
      try {
        assert.equal(detector.proposeSmallFaces !== undefined, SMALL_FACE_DETECTORS.includes(name), name);
      } finally {
        await detector.close();
      }
    }
  });

  it('when a setup names a detector that is not registered, then loading fails naming the known ones', async () => {
    const stale = { name: 'dlib', options: {} } as unknown as DetectorSettings;
    await assert.rejects(async () => loadDetector(stale, () => loadCascades(loadConfig({}).cascadeDir)), new RegExp(`unknown face detector "dlib": one of ${DETECTOR_NAMES.join(', ')}`));
  });

});
