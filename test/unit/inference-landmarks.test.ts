import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { getPhotos } from '../../infra/photos';
import { loadConfig } from '../../services/inference/config';
import { apply, similarity } from '../../services/inference/runtime/affine';
import { decodeGray } from '../../services/inference/runtime/decode';
import { closeFaceEngine, createFaceEngine, faceSetup, findFaces } from '../../services/inference/runtime/faces';
import { type FacePoints, landmarkConfidence, loadLandmarkNet } from '../../services/inference/runtime/landmarks';
import { labelsFor, photoLabels, rotatePhoto } from '../helpers/photo-labels';
import { correlation } from '../helpers/pixels';

/** An upright frontal face's five points, eyes 40 px apart, in a 100 px box. */
const upright: FacePoints = { leftEye: [30, 40], rightEye: [70, 40], nose: [50, 60], mouthLeft: [36, 78], mouthRight: [64, 78] };
const turn = (p: FacePoints, deg: number): FacePoints => {
  const r = (deg * Math.PI) / 180;
  const t = ([x, y]: [number, number]): [number, number] => [50 + (x - 50) * Math.cos(r) - (y - 50) * Math.sin(r), 50 + (x - 50) * Math.sin(r) + (y - 50) * Math.cos(r)];
  return { leftEye: t(p.leftEye), rightEye: t(p.rightEye), nose: t(p.nose), mouthLeft: t(p.mouthLeft), mouthRight: t(p.mouthRight) };
};

describe('landmark alignment: pure parts', () => {
  it('when points are a rotated, scaled, shifted copy, then the similarity fit recovers that transform exactly', () => {
    const from: [number, number][] = [[10, 20], [50, 22], [31, 45], [18, 60], [44, 61]];
    const deg = 23;
    const k = 0.7;
    const c = Math.cos((deg * Math.PI) / 180) * k;
    const s = Math.sin((deg * Math.PI) / 180) * k;
    const to = from.map(([x, y]): [number, number] => [c * x - s * y + 5, s * x + c * y - 8]);
    const m = similarity(from, to);
    for (const [i, p] of from.entries()) {
      const [x, y] = apply(m, ...p);
      assert.ok(Math.abs(x - to[i][0]) < 1e-9 && Math.abs(y - to[i][1]) < 1e-9, `point ${i}`);
    }
  });

  it('when the fit is given fewer than two pairs or coincident points, then it says so', () => {
    assert.throws(() => similarity([[1, 1]], [[2, 2]]), /two or more point pairs/);
    assert.throws(() => similarity([[1, 1], [1, 1]], [[0, 0], [1, 1]]), /coincide/);
  });

  it('when the points form a face at any tilt, then they are trusted; scattered or squeezed points are not', () => {
    for (const deg of [-40, -15, 0, 15, 40]) assert.ok(landmarkConfidence(turn(upright, deg), 100) >= 0.9, `tilt ${deg}`);
    const mouthAboveEyes: FacePoints = { ...upright, mouthLeft: [36, 10], mouthRight: [64, 10] };
    assert.equal(landmarkConfidence(mouthAboveEyes, 100), 0);
    const skewed: FacePoints = { ...upright, mouthLeft: [80, 55], mouthRight: [95, 60] }; // mouth off to one side
    assert.ok(landmarkConfidence(skewed, 100) < 0.5);
    assert.equal(landmarkConfidence({ ...upright, rightEye: [34, 40] }, 100), 0, 'eyes 4 px apart in a 100 px box');
  });
});

describe('landmark net on real photos', () => {
  it('when the converted model file is missing, then loading says how to make it', async () => {
    await assert.rejects(loadLandmarkNet('/nonexistent/face_landmark_68.onnx'), /npm run bootstrap.*FEROPS_FACE_LANDMARK_MODEL/);
  });

  it('when only the detector model is configured, then the landmark net is looked for beside it; FEROPS_FACE_LANDMARK_MODEL overrides', () => {
    assert.equal(faceSetup(loadConfig({ faceDetectorModel: '/opt/ferops/tiny_face_detector.onnx' })).landmarkModel, '/opt/ferops/face_landmark_68.onnx');
    assert.equal(faceSetup(loadConfig({}, { FEROPS_FACE_LANDMARK_MODEL: '/models/lm.onnx' })).landmarkModel, '/models/lm.onnx');
  });

  it('when a portrait is aligned, then the eyes land within 8 % of the eye distance of the hand labels and the face is levelled', async () => {
    const engine = await createFaceEngine(faceSetup(loadConfig({})));
    try {
      const photo = getPhotos().graceHopper;
      const [label] = labelsFor(photoLabels(), photo);
      const { faces } = await findFaces(await decodeGray(readFileSync(photo), 40e6), engine, true);
      assert.equal(faces.length, 1);
      const a = faces[0].alignment;
      assert.equal(a.method, 'landmarks');
      assert.equal(a.eyesFound, 2);
      assert.ok(a.confidence >= 0.5 && a.confidence <= 1, `confidence ${a.confidence}`);
      const { left, right } = label.eyes!;
      const iod = Math.hypot(right[0] - left[0], right[1] - left[1]);
      const err = (Math.hypot(a.eyes!.left[0] - left[0], a.eyes!.left[1] - left[1]) + Math.hypot(a.eyes!.right[0] - right[0], a.eyes!.right[1] - right[1])) / 2;
      assert.ok(err / iod < 0.08, `eye error ${(err / iod).toFixed(3)} of the eye distance`);
      const labelled = (Math.atan2(right[1] - left[1], right[0] - left[0]) * 180) / Math.PI;
      assert.ok(Math.abs(a.angleDeg - labelled) <= 3, `angle ${a.angleDeg}, labelled ${labelled.toFixed(1)}`);
    } finally {
      await closeFaceEngine(engine);
    }
  });

  it('when a portrait is tilted by up to 20 degrees, then its aligned crop is nearly the upright one (the tilt is undone)', async () => {
    const engine = await createFaceEngine(faceSetup(loadConfig({})));
    try {
      const photo = getPhotos().astronaut;
      const img = await decodeGray(readFileSync(photo), 40e6);
      const labels = labelsFor(photoLabels(), photo);
      const crop = async (deg: number) => {
        const { faces } = await findFaces(rotatePhoto(img, labels, deg).img, engine, true);
        const largest = [...faces].sort((a, b) => b.box.width - a.box.width)[0];
        assert.equal(largest.alignment.method, 'landmarks', `tilted ${deg}`);
        return largest.pixels;
      };
      const upright = await crop(0);
      for (const deg of [-20, -10, 10, 20]) {
        const r = correlation(upright, await crop(deg));
        assert.ok(r > 0.9, `tilted ${deg}: crop correlates ${r.toFixed(3)} with the upright one`);
      }
    } finally {
      await closeFaceEngine(engine);
    }
  });

  it('when a face is in profile, then the response says its points are not trusted instead of reporting angle 0 as a measurement', async () => {
    const engine = await createFaceEngine(faceSetup(loadConfig({})));
    try {
      const photo = getPhotos().samples.find((f) => f.endsWith('sample2.jpg'))!;
      const [profile] = labelsFor(photoLabels(), photo);
      const { faces } = await findFaces(await decodeGray(readFileSync(photo), 40e6), engine, true);
      const face = faces.find((f) => Math.abs(f.box.x + f.box.width / 2 - (profile.box.x + profile.box.width / 2)) < profile.box.width / 2);
      assert.ok(face, 'the profile face is found');
      assert.equal(face.alignment.method, 'none');
      assert.ok(face.alignment.confidence < 0.5, `confidence ${face.alignment.confidence}`);
      assert.equal(face.alignment.eyesFound, 0);
      assert.equal(face.pixels.length, 48 * 48, 'it is still cropped from its box and classified');
    } finally {
      await closeFaceEngine(engine);
    }
  });

  it('when the Haar detector is configured, then its eye cascades align and no landmark net is loaded', async () => {
    const setup = faceSetup(loadConfig({ faceDetector: 'haar' }));
    assert.equal(setup.landmarkModel, undefined);
    const engine = await createFaceEngine(setup);
    try {
      const { faces } = await findFaces(await decodeGray(readFileSync(getPhotos().graceHopper), 40e6), engine, true);
      assert.equal(faces.length, 1);
      assert.ok(['eyes', 'none'].includes(faces[0].alignment.method), faces[0].alignment.method);
      assert.equal(faces[0].alignment.eyes, null);
    } finally {
      await closeFaceEngine(engine);
    }
  });
});
