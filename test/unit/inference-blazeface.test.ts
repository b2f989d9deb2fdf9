import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { getPhotos } from '../../infra/photos';
import { loadConfig } from '../../services/inference/config';
import { loadCascades } from '../../services/inference/runtime/cv';
import { decodeGray } from '../../services/inference/runtime/decode';
import { ANCHORS, decodeBlazeFace } from '../../services/inference/runtime/detectors/blazeface';
import { loadDetector } from '../../services/inference/runtime/detectors';
import { faceSetup } from '../../services/inference/runtime/faces';
import { eyeLineDeg } from '../../services/inference/runtime/landmarks';
import { labelsFor, photoLabels, rotatePhoto } from '../helpers/photo-labels';

const N = 896;
const near = (actual: number[], expected: number[]) =>
  assert.ok(actual.every((v, i) => Math.abs(v - expected[i]) < 1e-6), `${actual} against ${expected}`);

/** A model answer with every anchor far below any threshold, and `set` to place candidates. */
function answer(set: (boxes: Float32Array, logits: Float32Array) => void): { boxes: Float32Array; logits: Float32Array } {
  const boxes = new Float32Array(N * 16);
  const logits = new Float32Array(N).fill(-50);
  set(boxes, logits);
  return { boxes, logits };
}

/** Anchor `i` answers a face at its centre + (dx, dy), w x h, eyes `eyeDy` apart vertically, with logit `logit`. */
function candidate(boxes: Float32Array, logits: Float32Array, i: number, { dx = 0, dy = 0, w = 40, h = 40, eyeDy = 0, logit = 3 }) {
  logits[i] = logit;
  boxes.set([dx, dy, w, h, dx - 10, dy - 5 - eyeDy / 2, dx + 10, dy - 5 + eyeDy / 2], i * 16);
}

describe('BlazeFace: decoding its answer', () => {
  it('when the anchors are laid out, then they are MediaPipe\'s: 16x16 cells of 2 anchors, then 8x8 cells of 6', () => {
    assert.equal(ANCHORS.length, 2 * N);
    assert.deepEqual([ANCHORS[0], ANCHORS[1]], [0.5 / 16, 0.5 / 16]);
    assert.deepEqual([ANCHORS[2], ANCHORS[3]], [0.5 / 16, 0.5 / 16], 'two anchors per cell share a centre');
    assert.deepEqual([ANCHORS[2 * 512], ANCHORS[2 * 512 + 1]], [0.5 / 8, 0.5 / 8]);
    assert.deepEqual([ANCHORS[2 * (N - 1)], ANCHORS[2 * (N - 1) + 1]], [7.5 / 8, 7.5 / 8]);
  });

  it('when one anchor answers a face, then its box and keypoints are offsets from the anchor centre in view pixels', () => {
    const i = 2 * (16 * 5 + 3); // row 5, column 3 of the 16 px cells
    const { boxes, logits } = answer((b, l) => candidate(b, l, i, { dx: 2, dy: -4, w: 40, h: 44, logit: 2 }));
    const [face] = decodeBlazeFace(boxes, logits, 0.5);
    const [ax, ay] = [3.5 * 16, 5.5 * 16];
    near([face.x, face.y, face.width, face.height, face.score], [ax + 2 - 20, ay - 4 - 22, 40, 44, 1 / (1 + Math.exp(-2))]);
    near(face.keypoints[0], [ax + 2 - 10, ay - 4 - 5]);
  });

  it('when overlapping anchors answer one face, then they blend into one box weighted by score; a distant face stays apart', () => {
    const { boxes, logits } = answer((b, l) => {
      candidate(b, l, 0, { dx: 0, logit: 3 });
      candidate(b, l, 1, { dx: 4, logit: 3 }); // same cell, 4 px to the right, equally sure
      candidate(b, l, N - 1, { logit: 1 });
    });
    const faces = decodeBlazeFace(boxes, logits, 0.5);
    assert.equal(faces.length, 2);
    near([faces[0].x, faces[0].width], [8 + 2 - 20, 40]);
  });

  it('when a floor under the threshold is given, then a doubtful face apart comes out too, and doubtful boxes on a sure face leave it as it was', () => {
    const doubtful = Math.log(0.18 / 0.82); // scores 0.18: under the threshold of 0.25, over the floor of 0.15
    const { boxes, logits } = answer((b, l) => {
      candidate(b, l, 0, { dx: 0, logit: 3 });
      candidate(b, l, 1, { dx: 8, logit: doubtful }); // overlaps the sure face
      candidate(b, l, N - 1, { logit: doubtful });
    });
    const faces = decodeBlazeFace(boxes, logits, 0.25, 0.15);
    assert.equal(faces.length, 2);
    near([faces[0].x, faces[0].width, faces[0].score], [8 - 20, 40, 1 / (1 + Math.exp(-3))]);
    near([faces[1].x, faces[1].score], [7.5 * 32 - 20, 0.18]);
    assert.deepEqual(decodeBlazeFace(boxes, logits, 0.25), [faces[0]], 'without a floor, the threshold alone decides');
  });

  it('when a score is under the threshold or a box has no size, then it is not a face', () => {
    const { boxes, logits } = answer((b, l) => {
      candidate(b, l, 10, { logit: -1 });
      candidate(b, l, 600, { w: 0, logit: 5 });
    });
    assert.deepEqual(decodeBlazeFace(boxes, logits, 0.5), []);
    assert.throws(() => decodeBlazeFace(boxes.subarray(16), logits, 0.5), /expected 896/);
  });

});

describe('BlazeFace on a real portrait', () => {
  it('when the portrait is turned, then the eye keypoints give the turn within 8 degrees, so landmarks see the face upright', async () => {
    const setup = faceSetup(loadConfig({ faceDetector: 'blazeface' }));
    const detector = await loadDetector(setup.detector, () => loadCascades(setup.cascadeDir));
    try {
      const file = getPhotos().graceHopper;
      const img = await decodeGray(readFileSync(file), 40e6);
      for (const deg of [-30, -15, 0, 15, 30]) {
        const turned = rotatePhoto(img, labelsFor(photoLabels(), file), deg);
        // The boxes it doubts (scored under FEROPS_DETECT_MIN_SCORE) are left to the verifier; it is sure of one face.
        const found = (await detector.detect(turned.img)).found.filter((d) => d.minFaceScore === undefined);
        assert.equal(found.length, 1, `at ${deg}`);
        const { left, right } = turned.faces[0].eyes!;
        const err = found[0].hintDeg - eyeLineDeg(left, right);
        assert.ok(Math.abs(err) <= 8, `at ${deg}: hint ${found[0].hintDeg.toFixed(1)}, eyes ${eyeLineDeg(left, right).toFixed(1)}`);
      }
    } finally {
      await detector.close();
    }
  });
});
