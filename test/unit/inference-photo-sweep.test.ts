import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getPhotos } from '../../infra/photos';
import { loadConfig } from '../../services/inference/config';
import { decodeGray, type GrayImage } from '../../services/inference/runtime/decode';
import { closeFaceEngine, createFaceEngine, type FaceEngine, faceSetup, findFaces } from '../../services/inference/runtime/faces';
import { type LabelledFace, labelsFor, type PhotoScore, photoLabels, rotatePhoto, scorePhoto } from '../helpers/photo-labels';

/**
 * The face pipeline (CNN detector + landmark alignment) on the 8 real test photos, each rotated by -30..30 degrees
 * in steps of 5, scored against hand labels (test/fixtures/photo-labels.json). The bounds are regression guards
 * set below what the pipeline measured (docs/inference.md#landmarks-and-alignment has the numbers); issue #22's
 * full targets (every face at every angle within 3 degrees, no false box) are not met yet and are listed there.
 */
const ANGLES = Array.from({ length: 13 }, (_, i) => -30 + 5 * i);

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

describe('faces on real photos, rotated -30..30 degrees, against hand labels', () => {
  let engine: FaceEngine;
  /** The default pipeline, and with FEROPS_DETECT_MIN_FACE=24 (MTCNN's stages beside the CNN). */
  let withMtcnn: FaceEngine;
  const scores: { photo: string; deg: number; score: PhotoScore }[] = [];
  const mtcnnScores: PhotoScore[] = [];

  before(async () => {
    engine = await createFaceEngine(faceSetup(loadConfig({})));
    withMtcnn = await createFaceEngine(faceSetup(loadConfig({ detectMinFace: 24 })));
    const photos = getPhotos(); // fetches them; fails (does not skip) when they cannot be fetched
    const labels = photoLabels();
    for (const file of [photos.graceHopper, photos.astronaut, ...photos.samples]) {
      const img: GrayImage = await decodeGray(readFileSync(file), 40e6);
      const faces: LabelledFace[] = labelsFor(labels, file);
      for (const deg of ANGLES) {
        const rotated = rotatePhoto(img, faces, deg);
        const found = await findFaces(rotated.img, engine, true);
        scores.push({ photo: basename(file), deg, score: scorePhoto(found.faces, rotated.faces) });
        mtcnnScores.push(scorePhoto((await findFaces(rotated.img, withMtcnn, true)).faces, rotated.faces));
      }
    }
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

  it('when the photos are rotated, then at least 88 % of the frontal faces are found and the face verifier leaves few false boxes', () => {
    const frontal = scores.reduce((a, s) => a + s.score.frontal, 0);
    const found = scores.reduce((a, s) => a + s.score.found.filter(Boolean).length, 0);
    const falseBoxes = scores.reduce((a, s) => a + s.score.falseBoxes.length, 0);
    assert.equal(frontal, 23 * ANGLES.length);
    assert.ok(found / frontal >= 0.88, `recall ${(found / frontal).toFixed(3)} (${found} of ${frontal})`);
    assert.ok(falseBoxes <= 10, `${falseBoxes} false boxes in ${scores.length} images`);
  });

  it('when MTCNN searches beside the CNN (FEROPS_DETECT_MIN_FACE=24), then it finds faces leaning too far for the CNN, with few false boxes', () => {
    const count = (list: PhotoScore[]) => list.reduce((a, s) => a + s.found.filter(Boolean).length, 0);
    const found = count(mtcnnScores);
    const falseBoxes = mtcnnScores.reduce((a, s) => a + s.falseBoxes.length, 0);
    // Bounds below what was measured (docs/inference.md#landmarks-and-alignment).
    assert.ok(found / (23 * ANGLES.length) >= 0.93, `recall ${found} of ${23 * ANGLES.length}`);
    assert.ok(found >= count(scores.map((s) => s.score)) + 5, `${found} against the default's ${count(scores.map((s) => s.score))}`);
    assert.ok(falseBoxes <= 10, `${falseBoxes} false boxes`);
  });

  it('when found faces are aligned, then the tilt is recovered (median within 2 degrees) and the eyes sit near the labels', () => {
    const found = scores.flatMap((s) => s.score.found.filter((f) => f !== undefined));
    const angleErrs = found.flatMap((f) => (f.angleErrDeg === null ? [] : [Math.abs(f.angleErrDeg)]));
    const nmes = found.flatMap((f) => (f.nme === null ? [] : [f.nme]));
    assert.ok(angleErrs.length >= 0.9 * found.length, `${angleErrs.length} of ${found.length} found faces aligned on landmarks`);
    assert.ok(quantile(angleErrs, 0.5) <= 2, `median angle error ${quantile(angleErrs, 0.5).toFixed(2)}`);
    assert.ok(quantile(angleErrs, 0.9) <= 6, `90th percentile angle error ${quantile(angleErrs, 0.9).toFixed(2)}`);
    assert.ok(quantile(nmes, 0.5) <= 0.07, `median eye error ${quantile(nmes, 0.5).toFixed(3)} of the eye distance`);
  });
});

describe('faces leaning past the upright pass, with FEROPS_DETECT_TILTS', () => {
  // Labelled frontal faces the upright pass misses at these turns of their photos (docs/inference.md#landmarks-and-alignment).
  // `face`: the index of that face among the photo's labelled frontal faces.
  const CASES = [
    { photo: 'grace_hopper.jpg', deg: 30, face: 0 },
    { photo: 'sample3.jpg', deg: -25, face: 1 },
    { photo: 'sample4.jpg', deg: 25, face: 0 },
    { photo: 'sample6.jpg', deg: -30, face: 3 },
  ];

  // Clear faces, well within 3 degrees when found; most other faces the turned passes add are the hard ones, off by
  // a few degrees upright too (docs/inference.md#landmarks-and-alignment).
  it('when turned passes at -35 and 35 degrees are on, then each such face is found and aligned on its landmarks within 3 degrees', async () => {
    const engine = await createFaceEngine(faceSetup(loadConfig({ detectTilts: [-35, 35] })));
    try {
      const photos = getPhotos();
      const labels = photoLabels();
      for (const { photo, deg, face } of CASES) {
        const file = [photos.graceHopper, photos.astronaut, ...photos.samples].find((f) => basename(f) === photo)!;
        const rotated = rotatePhoto(await decodeGray(readFileSync(file), 40e6), labelsFor(labels, file), deg);
        const score = scorePhoto((await findFaces(rotated.img, engine, true)).faces, rotated.faces);
        const found = score.found[face];
        assert.ok(found, `${photo} at ${deg}: face ${face} not found`);
        assert.ok(found.angleErrDeg !== null && Math.abs(found.angleErrDeg) <= 3, `${photo} at ${deg}: face ${face} angle error ${found.angleErrDeg}`);
      }
    } finally {
      await closeFaceEngine(engine);
    }
  });
});
