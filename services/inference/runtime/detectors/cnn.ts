import { dirname } from 'node:path';
import * as ort from 'onnxruntime-node';
import { grayMat } from '../crop';
import { cv, type CvMat, withMats } from '../cv';
import type { GrayImage } from '../decode';
import { openFaceNet } from '../face-net';
import { type Affine, apply, invert, rotation } from '../affine';
import { nonMaxSuppression, type ScoredBox } from './boxes';
import type { Box, DetectorKind, FaceDetector } from './detector';
import { clampToImage, type ScoredDetection, stagedFaces } from './passes';
import { smallFaceSearch, type SmallFaceSearch, TINY_DETECTOR_MIN_FACE } from './small-faces';

/**
 * Face detection with face-api.js's Tiny Face Detector (a 190k-parameter Tiny-YOLOv2 with depthwise-separable
 * convolutions), converted to ONNX by infra/face-detector/convert.py. It replaced Haar as the default because
 * Haar in opencv-wasm costs many times more per photo, and on the test photos this finds every face Haar finds,
 * tilted heads included, with no rotated passes (docs/inference.md#design-measurements-moved-from-code-comments).
 *
 * The graph takes raw gray values (1, 1, H, W), H and W multiples of 32, and answers a grid (1, 25, H/32, W/32):
 * per cell, 5 anchors x (tx, ty, tw, th, score), decoded as in YOLOv2.
 */

/** Anchor sizes in cells (32 px), from face-api's tinyFaceDetector/const.ts. */
const ANCHORS: ReadonlyArray<readonly [number, number]> = [
  [1.603231, 2.094468],
  [6.041143, 7.080126],
  [2.882459, 3.518061],
  [4.266906, 5.178857],
  [9.041765, 10.66308],
];
const CELL = 32;
const VALUES_PER_ANCHOR = 5;
/** face-api's IOU_THRESHOLD: boxes overlapping more than this are the same face. */
const NMS_IOU = 0.4;
/**
 * Lowest score a turned pass's box is kept at: turned passes find things upright misses, faces and more non-faces;
 * above the upright threshold they keep most of the faces and far fewer non-faces (docs/inference.md#landmarks-and-alignment).
 */
const TURNED_MIN_SCORE = 0.4;
const INPUT = 'image';
const OUTPUT = 'grid';

export interface CnnOptions {
  /** The converted detector (FEROPS_FACE_DETECTOR_MODEL). */
  modelFile: string;
  /** Longest side of the detector's input; the image is scaled to it, then padded to multiples of 32. */
  maxSide: number;
  /** Lowest face score kept (0..1). */
  minScore: number;
  /** In-plane turns (degrees) searched besides upright, for faces leaning further than the CNN finds. */
  tilts: number[];
  /** Smallest face (image pixels) searched by MTCNN below the CNN's reach (FEROPS_DETECT_MIN_FACE); 0: off unless a request asks. */
  minFace: number;
  /** The most pixels of that search's largest level (FEROPS_DETECT_SEARCH_PIXELS). */
  searchPixels: number;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Turns the detector's grid into boxes in original-image pixels (`scale` = input px per image px), best first,
 * overlapping duplicates removed.
 */
export function decodeGrid(grid: Float32Array, rows: number, cols: number, scale: number, minScore: number): ScoredBox[] {
  if (grid.length !== ANCHORS.length * VALUES_PER_ANCHOR * rows * cols) {
    throw new Error(`detector grid has ${grid.length} values, expected ${ANCHORS.length * VALUES_PER_ANCHOR}x${rows}x${cols}`);
  }
  const plane = rows * cols;
  const at = (anchor: number, k: number, cell: number) => grid[(anchor * VALUES_PER_ANCHOR + k) * plane + cell];
  const found: ScoredBox[] = [];
  for (let anchor = 0; anchor < ANCHORS.length; anchor++) {
    for (let cell = 0; cell < plane; cell++) {
      const score = sigmoid(at(anchor, 4, cell));
      if (score < minScore) continue;
      const row = Math.floor(cell / cols);
      const col = cell % cols;
      const cx = (col + sigmoid(at(anchor, 0, cell))) * CELL;
      const cy = (row + sigmoid(at(anchor, 1, cell))) * CELL;
      const w = Math.exp(at(anchor, 2, cell)) * ANCHORS[anchor][0] * CELL;
      const h = Math.exp(at(anchor, 3, cell)) * ANCHORS[anchor][1] * CELL;
      found.push({ x: (cx - w / 2) / scale, y: (cy - h / 2) / scale, width: w / scale, height: h / scale, score });
    }
  }
  return nonMaxSuppression(found, NMS_IOU);
}

/**
 * The detector's view of the image: turned by `angleDeg` (opencv's sense: positive turns the picture
 * counter-clockwise) on a canvas that keeps every pixel, scaled so the canvas's longest side is `maxSide`, and
 * zero-padded (face-api pads black) to multiples of 32 or, with `pad` 'square', to a `maxSide` square at its top left
 * (BlazeFace's fixed input). `back` maps view pixels to image pixels.
 */
export function letterbox(
  img: GrayImage,
  maxSide: number,
  angleDeg = 0,
  pad: 'cells' | 'square' = 'cells',
): { data: Float32Array; width: number; height: number; back: Affine } {
  const rad = (Math.abs(angleDeg) * Math.PI) / 180;
  const [cos, sin] = [Math.cos(rad), Math.sin(rad)];
  const scale = maxSide / Math.max(img.width * cos + img.height * sin, img.width * sin + img.height * cos);
  const w = Math.max(1, Math.round(img.width * scale));
  const h = Math.max(1, Math.round(img.height * scale));
  // The canvas of the turned picture, and the turn about the scaled picture's centre onto it.
  const cw = angleDeg === 0 ? w : Math.ceil(w * cos + h * sin);
  const ch = angleDeg === 0 ? h : Math.ceil(w * sin + h * cos);
  const turn = rotation(w / 2, h / 2, angleDeg, 1);
  turn[2] += (cw - w) / 2;
  turn[5] += (ch - h) / 2;
  const width = pad === 'square' ? Math.max(maxSide, cw) : Math.ceil(cw / CELL) * CELL;
  const height = pad === 'square' ? Math.max(maxSide, ch) : Math.ceil(ch / CELL) * CELL;
  const data = new Float32Array(width * height);
  withMats((track) => {
    const c = cv();
    const src = grayMat(img, track);
    let view: CvMat = track(new c.Mat());
    // INTER_AREA averages when shrinking (no aliasing); it is bilinear-like when enlarging.
    c.resize(src, view, new c.Size(w, h), 0, 0, scale < 1 ? c.INTER_AREA : c.INTER_LINEAR);
    if (angleDeg !== 0) {
      const turned: CvMat = track(new c.Mat());
      c.warpAffine(view, turned, track(c.matFromArray(2, 3, c.CV_64FC1, turn)), new c.Size(cw, ch), c.INTER_LINEAR, c.BORDER_CONSTANT, new c.Scalar(0));
      view = turned;
    }
    const px = view.data;
    for (let y = 0; y < ch; y++) {
      const row = y * cw;
      const out = y * width;
      for (let x = 0; x < cw; x++) data[out + x] = px[row + x];
    }
  });
  // View pixel -> scaled picture (undo the turn) -> image pixel (undo the scale, per axis as rounded).
  const [a, b, tx, d, e, ty] = invert(turn);
  const [sx, sy] = [img.width / w, img.height / h];
  return { data, width, height, back: [a * sx, b * sx, tx * sx, d * sy, e * sy, ty * sy] };
}

export const cnnDetector: DetectorKind<CnnOptions> = {
  modelFile: 'tiny_face_detector.onnx',
  // Between the verifier's scores of its false boxes and of its faces on the turned test photos (docs/inference.md).
  minFaceScore: 0.05,
  searchesSmallFaces: true,
  options: (c) => ({ modelFile: c.faceDetectorModel, maxSide: c.detectMaxSide, minScore: c.detectMinScore, tilts: c.detectTilts, minFace: c.detectMinFace, searchPixels: c.detectSearchPixels }),
  load: (opts) => loadCnnDetector(opts),
};

/** Loads the converted detector; a missing file says how to make it. */
async function loadCnnDetector({ modelFile, ...opts }: CnnOptions): Promise<FaceDetector> {
  const session = await openFaceNet(modelFile, {
    name: 'face detector',
    inputs: [INPUT],
    outputs: [OUTPUT],
    howToMake: "run `npm run bootstrap` (it converts face-api's Tiny Face Detector from node_modules), or set FEROPS_FACE_DETECTOR_MODEL",
  });
  // Bootstrap and the container image convert MTCNN's nets beside the detector.
  let small: SmallFaceSearch;
  try {
    small = await smallFaceSearch(dirname(modelFile), opts.searchPixels, opts.minFace > 0);
  } catch (err) {
    await session.release();
    throw err;
  }
  return {
    async detect(img, elsewhere, smallest = opts.minFace) {
      // Faces smaller than the CNN sees at its input's scale (the upright view's: maxSide over the longer side).
      const maxSmallFace = TINY_DETECTOR_MIN_FACE / (opts.maxSide / Math.max(img.width, img.height));
      // Started first: elsewhere, it runs while this thread's passes and the caller's alignment do.
      const smallFaces = smallest > 0 && maxSmallFace > smallest ? small.search(img, smallest, maxSmallFace, elsewhere) : undefined;
      const found: ScoredDetection[] = [];
      for (const angle of [0, ...opts.tilts]) {
        const view = letterbox(img, opts.maxSide, angle);
        const out = (await session.run({ [INPUT]: new ort.Tensor('float32', view.data, [1, 1, view.height, view.width]) }))[OUTPUT];
        const [, , rows, cols] = out.dims;
        for (const b of decodeGrid(out.data as Float32Array, rows, cols, 1, angle === 0 ? opts.minScore : Math.max(opts.minScore, TURNED_MIN_SCORE))) {
          const box = clampToImage(toImage(faceSquare(b), view.back), img.width, img.height);
          if (box) found.push({ box, hintDeg: angle, score: b.score, pass: angle === 0 ? 'upright' : 'turned' });
        }
      }
      return stagedFaces(found, smallFaces, img, ({ box, hintDeg, pass }) => ({ box, hintDeg, ...(pass === 'turned' ? { confirmByLandmarks: true as const } : {}) }));
    },
    proposeSmallFaces: small.propose,
    close: async () => void (await Promise.all([session.release(), small.close()])),
  };
}

/**
 * The CNN's boxes sit lower on the face than Haar's (mouth and chin in, brow partly out), at about the same size
 * (docs/inference.md#faces). Crops and eye search were tuned on Haar's framing, which is also FER2013's
 * (OpenCV-registered faces), so CNN boxes are moved to it: a square of the larger side, centred 12 % higher.
 */
export function faceSquare(b: Box): Box {
  const side = Math.max(b.width, b.height);
  const cx = b.x + b.width / 2;
  const cy = b.y + b.height / 2 - 0.12 * b.height;
  return { x: cx - side / 2, y: cy - side / 2, width: side, height: side };
}

/**
 * A face square of a (turned) view as a box of the image: the same square about its centre mapped back, which is
 * how the labels of a turned photo are moved too (the box of a leaning face is not axis-aligned in the image).
 */
function toImage(b: Box, back: Affine): Box {
  const [cx, cy] = apply(back, b.x + b.width / 2, b.y + b.height / 2);
  const side = b.width * Math.hypot(back[0], back[3]);
  return { x: cx - side / 2, y: cy - side / 2, width: side, height: side };
}
