import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { getPhotos } from '../../infra/photos';
import { loadConfig } from '../../services/inference/config';
import { apply, similarity } from '../../services/inference/runtime/affine';
import { decodeGray } from '../../services/inference/runtime/decode';
import { closeFaceEngine, createFaceEngine, faceSetup, findFaces } from '../../services/inference/runtime/faces';
import type { GrayImage } from '../../services/inference/runtime/decode';
import type { Detection } from '../../services/inference/runtime/detectors/detector';
import {
  eyeLineDeg,
  type FacePoints,
  LANDMARK_INPUT,
  type LandmarkNet,
  landmarkConfidence,
  loadLandmarkNet,
  locateLandmarks,
  type Point,
} from '../../services/inference/runtime/landmarks';
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

describe('landmarks: the second look at a leaning face', () => {
  const side = LANDMARK_INPUT;
  const img: GrayImage = { data: Buffer.alloc(200 * 200, 128), width: 200, height: 200, format: 'raw' };
  const face: Detection = { box: { x: 50, y: 50, width: 100, height: 100 }, hintDeg: 0 };
  /** 68 points in [0, 1] of a crop: the five alignment points of `pts` (a 100 px box's face), the rest at the centre. */
  const crop68 = (pts: FacePoints): Point[] => {
    const out: Point[] = Array.from({ length: 68 }, () => [0.5, 0.5]);
    const at = ([x, y]: Point): Point => [x / 100, y / 100];
    for (let i = 36; i < 42; i++) out[i] = at(pts.leftEye);
    for (let i = 42; i < 48; i++) out[i] = at(pts.rightEye);
    out[30] = at(pts.nose);
    out[48] = at(pts.mouthLeft);
    out[54] = at(pts.mouthRight);
    return out;
  };
  /** The same face as the net would answer on the mirrored crop (what locateLandmarks averages back in). */
  const mirror = (pts: FacePoints): FacePoints => {
    const m = ([x, y]: Point): Point => [((side - 1) / side) * 100 - x, y];
    return { leftEye: m(pts.rightEye), rightEye: m(pts.leftEye), nose: m(pts.nose), mouthLeft: m(pts.mouthRight), mouthRight: m(pts.mouthLeft) };
  };
  /** A landmark net answering the face tilted by `answers[call]` degrees in every crop of its `call`-th run. */
  const scripted = (answers: (FacePoints | number)[]) => {
    const calls: number[] = [];
    const net: LandmarkNet = {
      async run(_crops, n) {
        const a = answers[calls.length];
        calls.push(n);
        const pts = typeof a === 'number' ? turn(upright, a) : a;
        return Array.from({ length: n }, (_, i) => crop68(i % 2 === 0 ? pts : mirror(pts)));
      },
      close: async () => undefined,
    };
    return { net, calls };
  };
  const angle = (p: FacePoints) => eyeLineDeg(p.leftEye, p.rightEye);

  it('when the first answer leans more than 10 degrees from the hint, then the face is looked at again and the trusted second answer kept', async () => {
    const { net, calls } = scripted([30, 5]);
    const [p] = await locateLandmarks(img, [face], net);
    assert.deepEqual(calls, [2, 2], 'one more batched run, of the face and its mirror');
    // The second crop is turned by the first answer (30), so the 5 degrees it answers add to it.
    assert.ok(Math.abs(angle(p) - 35) < 0.5, `angle ${angle(p)}`);
  });

  it('when the second answer is not trusted, then the first is kept', async () => {
    // Eyes 5 degrees off, as in the test above, but the mouth above them: not a face's geometry.
    const mouthAboveEyes = turn({ ...upright, mouthLeft: [36, 10], mouthRight: [64, 10] }, 5);
    const { net, calls } = scripted([30, mouthAboveEyes]);
    const [p] = await locateLandmarks(img, [face], net);
    assert.deepEqual(calls, [2, 2]);
    assert.ok(Math.abs(angle(p) - 30) < 0.5, `angle ${angle(p)}`);
  });

  it('when the first answer is near the hint or not trusted, then there is no second run', async () => {
    const near = scripted([8]);
    const [p] = await locateLandmarks(img, [face], near.net);
    assert.deepEqual(near.calls, [2]);
    assert.ok(Math.abs(angle(p) - 8) < 0.5, `angle ${angle(p)}`);
    const untrusted = scripted([{ ...upright, rightEye: [34, 40] }]);
    await locateLandmarks(img, [face], untrusted.net);
    assert.deepEqual(untrusted.calls, [2]);
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
