import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getPhotos } from '../../infra/photos';
import { loadConfig } from '../../services/inference/config';
import { decodeGray } from '../../services/inference/runtime/decode';
import { closeFaceEngine, createFaceEngine, type FaceEngine, faceSetup, findFaces } from '../../services/inference/runtime/faces';
import { labelsFor, photoLabels, quantile, rotatePhoto, scorePhoto, scoreTurnedPhotos, type TurnedScore, turnErrors } from '../helpers/photo-labels';

/**
 * The face pipeline (BlazeFace + landmark alignment + the face verifier) on the 8 real test photos, each rotated by
 * -30..30 degrees in steps of 5, scored against hand labels (test/fixtures/photo-labels.json). The bounds sit a
 * little below what the pipeline measured, for other CPUs' rounding (docs/inference.md#landmarks-and-alignment has
 * the numbers); issue #22's full target of every face within 3 degrees is not met and is listed there.
 */
const ANGLES = Array.from({ length: 13 }, (_, i) => -30 + 5 * i);

describe('faces on real photos, rotated -30..30 degrees, against hand labels', () => {
  let engine: FaceEngine;
  /** The default pipeline, and with FEROPS_DETECT_MIN_FACE=24 (MTCNN's stages beside BlazeFace). */
  let withMtcnn: FaceEngine;
  let scores: TurnedScore[] = [];
  let mtcnnScores: TurnedScore[] = [];

  before(async () => {
    engine = await createFaceEngine(faceSetup(loadConfig({})));
    withMtcnn = await createFaceEngine(faceSetup(loadConfig({ detectMinFace: 24 })));
    [scores, mtcnnScores] = await scoreTurnedPhotos([engine, withMtcnn], ANGLES);
  });
  after(() => Promise.all([closeFaceEngine(engine), closeFaceEngine(withMtcnn)]));

  it('when the photos are upright, then every labelled frontal face is found, aligned on landmarks, and no false box appears', () => {
    const upright = scores.filter((s) => s.deg === 0);
    assert.equal(upright.length, 8);
    for (const { photo, score } of upright) {
      assert.equal(score.found.filter(Boolean).length, score.frontal, `${photo}: found ${score.found.filter(Boolean).length} of ${score.frontal}`);
      assert.deepEqual(score.falseBoxes, [], photo);
      for (const f of score.found) assert.notEqual(f!.angleErrDeg, null, `${photo}: a frontal face was not aligned`);
    }
  });

  it('when the photos are rotated, then every labelled frontal face is found at every turn and no false box appears', () => {
    const frontal = scores.reduce((a, s) => a + s.score.frontal, 0);
    const missed = scores.flatMap((s) => s.score.found.flatMap((f, i) => (f ? [] : [`${s.photo} at ${s.deg}: frontal face ${i}`])));
    const falseBoxes = scores.flatMap((s) => s.score.falseBoxes.map((b) => `${s.photo} at ${s.deg}: ${JSON.stringify(b)}`));
    assert.equal(frontal, 23 * ANGLES.length);
    // The hardest is sample4's three-quarter face at -30, leaning ~60 degrees: BlazeFace doubts it (a score under
    // FEROPS_DETECT_MIN_SCORE) and the verifier and landmarks confirm it (docs/inference.md#landmarks-and-alignment).
    assert.deepEqual(missed, []);
    assert.deepEqual(falseBoxes, []);
  });

  it('when MTCNN also searches small faces (FEROPS_DETECT_MIN_FACE=24), then the turned photos lose nothing by it', () => {
    const found = mtcnnScores.reduce((a, s) => a + s.score.found.filter(Boolean).length, 0);
    const falseBoxes = mtcnnScores.reduce((a, s) => a + s.score.falseBoxes.length, 0);
    // BlazeFace's boxes are the same with the search on; a face it found must not be lost to the merge with MTCNN's.
    const foundWithout = scores.reduce((a, s) => a + s.score.found.filter(Boolean).length, 0);
    assert.ok(found >= foundWithout, `${found} found with the search, ${foundWithout} without`);
    assert.equal(falseBoxes, 0);
  });

  it('when found faces are aligned, then most tilts are recovered within 3 degrees and the eyes sit near the labels', () => {
    const found = scores.flatMap((s) => s.score.found.filter((f) => f !== undefined));
    const angleErrs = found.flatMap((f) => (f.angleErrDeg === null ? [] : [Math.abs(f.angleErrDeg)]));
    const nmes = found.flatMap((f) => (f.nme === null ? [] : [f.nme]));
    assert.ok(angleErrs.length >= 0.97 * found.length, `${angleErrs.length} of ${found.length} found faces aligned on landmarks`);
    const within3 = angleErrs.filter((e) => e <= 3).length;
    assert.ok(within3 >= 0.75 * angleErrs.length, `${within3} of ${angleErrs.length} within 3 degrees`);
    assert.ok(quantile(angleErrs, 0.5) <= 2, `median angle error ${quantile(angleErrs, 0.5).toFixed(2)}`);
    assert.ok(quantile(angleErrs, 0.9) <= 5, `90th percentile angle error ${quantile(angleErrs, 0.9).toFixed(2)}`);
    assert.ok(quantile(nmes, 0.5) <= 0.05, `median eye error ${quantile(nmes, 0.5).toFixed(3)} of the eye distance`);
    assert.ok(quantile(nmes, 0.9) <= 0.1, `90th percentile eye error ${quantile(nmes, 0.9).toFixed(3)} of the eye distance`);
  });
  it('when a photo is turned, then every face reports the turn within 3 degrees of its upright angle', () => {
    // The turn applied is known exactly, so this measures rotation recovery free of the labels' own uncertainty.
    // Every found face is aligned (the upright test), so each turned face has its upright angle to be read against.
    const recovered = turnErrors(scores);
    assert.equal(recovered.length, 23 * (ANGLES.length - 1));
    const off = recovered.filter((e) => e > 3).map((e) => e.toFixed(1));
    // The hardest are leaning heads, whose second look at the landmarks is centred on the face the first look found
    // (docs/inference.md#landmarks-and-alignment).
    assert.deepEqual(off, [], `turns recovered more than 3 degrees off: ${off.join(', ')}`);
    assert.ok(quantile(recovered, 0.5) <= 1, `median ${quantile(recovered, 0.5).toFixed(2)}`);
  });
});

describe('faces leaning past the Tiny Face Detector\'s upright pass', () => {
  // Labelled frontal faces its upright pass misses at these turns of their photos (docs/inference.md#landmarks-and-alignment).
  // `face`: the index of that face among the photo's labelled frontal faces.
  const CASES = [
    { photo: 'grace_hopper.jpg', deg: 30, face: 0 },
    { photo: 'sample3.jpg', deg: -25, face: 1 },
    { photo: 'sample4.jpg', deg: 25, face: 0 },
    { photo: 'sample6.jpg', deg: -30, face: 3 },
  ];

  const check = async (engine: FaceEngine, maxAngleErrDeg: number) => {
    const photos = getPhotos();
    const labels = photoLabels();
    for (const { photo, deg, face } of CASES) {
      const file = [photos.graceHopper, photos.astronaut, ...photos.samples].find((f) => basename(f) === photo)!;
      const rotated = rotatePhoto(await decodeGray(readFileSync(file), 40e6), labelsFor(labels, file), deg);
      const score = scorePhoto((await findFaces(rotated.img, engine, true)).faces, rotated.faces);
      const found = score.found[face];
      assert.ok(found, `${photo} at ${deg}: face ${face} not found`);
      assert.ok(found.angleErrDeg !== null && Math.abs(found.angleErrDeg) <= maxAngleErrDeg, `${photo} at ${deg}: face ${face} angle error ${found.angleErrDeg}`);
    }
  };

  // Within 6 degrees of the labels, not 3: one of these, sample4's first face (eyes nearly closed) at 25, is 5.4 off
  // with the turned passes; the net and the labeller disagree on that face by 3-7 degrees at most turns, while its
  // turns are recovered (docs/inference.md#landmarks-and-alignment).
  it('when its turned passes at -35 and 35 degrees are on (FEROPS_DETECT_TILTS), then each such face is found and aligned within 6 degrees', async () => {
    const engine = await createFaceEngine(faceSetup(loadConfig({ faceDetector: 'cnn', detectTilts: [-35, 35] })));
    try {
      await check(engine, 6);
    } finally {
      await closeFaceEngine(engine);
    }
  });

  it('when BlazeFace (the default) searches them, then its one pass finds each such face and aligns it within 5 degrees', async () => {
    const engine = await createFaceEngine(faceSetup(loadConfig({})));
    try {
      await check(engine, 5);
    } finally {
      await closeFaceEngine(engine);
    }
  });
});
