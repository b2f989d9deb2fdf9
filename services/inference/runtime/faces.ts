import { FACE_SIZE } from '../../../lib/labels';
import { type Cascades, type CvMat, type CvRect, cv, cvError, withMats } from './cv';
import type { GrayImage } from './decode';

/**
 * Face detection and alignment on a grayscale image:
 * 1. Haar frontal-face detection on a copy downscaled so its longest side is `detectMaxSide` (detection cost
 *    grows with pixel count; faces worth classifying survive the downscale), boxes mapped back to full size;
 * 2. eyes searched with haarcascade_eye in the upper part of each face, at full resolution;
 * 3. one affine warp that rotates about the face centre so the eyes are level, scales and crops (with a margin)
 *    straight to the 48x48 model input.
 */

export interface DetectOptions {
  /** Longest side of the copy the face detector runs on. */
  detectMaxSide: number;
  scaleFactor: number;
  minNeighbors: number;
  /**
   * Smallest face the upright pass looks for, in pixels of the downscaled copy (the cascade's window is 24).
   * Haar cost is dominated by the first, largest pyramid levels (the smallest faces), so raising it is the
   * cheapest speed-up that keeps resolution: downscaling the copy instead lost faces on the real photos.
   */
  minFaceSide: number;
  /**
   * Smallest face the rotated passes look for (same units). Tilted heads worth a second look are the large,
   * close ones in group photos; searching them from a larger size makes each rotated pass ~4x cheaper.
   */
  rotatedMinFaceSide: number;
  /**
   * In-plane rotations (degrees) the detector also searches: the frontal cascade only finds faces tilted less
   * than ~10 degrees, and people in photos tilt their heads. The first angle wins where detections overlap.
   */
  angles: number[];
}

export const DEFAULT_DETECT: DetectOptions = {
  detectMaxSide: 480,
  scaleFactor: 1.2,
  minNeighbors: 5,
  minFaceSide: 34,
  rotatedMinFaceSide: 48,
  angles: [0, -20, 20],
};

/** Fraction of the face box added on every side before cropping: FER2013 crops include the chin and brow. */
const MARGIN = 0.1;
/**
 * Side of the upright face patch the eye cascade searches; fixed so eye sizes are predictable (~20 px, the eye
 * cascade's window). 100 rather than 150: the eye search was most of the per-face cost (14 ms of a 640x480
 * portrait vs 5 ms), and on the test photos both eyes are found as often (17 of 23 faces vs 16 at 150).
 */
const EYE_PATCH = 100;
/** Eye pairs implying a larger residual tilt than this are false positives (nostrils, brows). */
const MAX_RESIDUAL_DEG = 25;

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface AlignedFace {
  box: Box;
  alignment: { angleDeg: number; eyesFound: number };
  /** 48x48 grayscale crop, row-major. */
  pixels: Uint8Array;
}

export interface FaceResult {
  faces: AlignedFace[];
  detectMs: number;
  alignMs: number;
}

/** Finds, aligns and crops every face; with `detect: false` the whole image is treated as one face. */
export function findFaces(img: GrayImage, cascades: Cascades, detect: boolean, opts = DEFAULT_DETECT): FaceResult {
  if (img.data.length !== img.width * img.height) {
    throw new Error(`gray image has ${img.data.length} bytes for ${img.width}x${img.height} pixels`);
  }
  try {
    return withMats((track) => {
      const c = cv();
      const gray: CvMat = track(new c.Mat(img.height, img.width, c.CV_8UC1));
      gray.data.set(img.data);
      const t0 = performance.now();
      const found = detect
        ? detectBoxes(gray, cascades, opts, track)
        : [{ box: { x: 0, y: 0, width: img.width, height: img.height }, hintDeg: 0 }];
      const t1 = performance.now();
      const faces = found.map(({ box, hintDeg }) => {
        const alignment = detect ? findEyes(gray, box, hintDeg, cascades, track) : { angleDeg: 0, eyesFound: 0 };
        // Whole-image mode: the caller already cropped the face, so no margin is added around it.
        const pixels = cropAligned(gray, box, alignment.angleDeg, detect ? MARGIN : 0, track);
        return { box, alignment, pixels };
      });
      return { faces, detectMs: t1 - t0, alignMs: performance.now() - t1 };
    });
  } catch (err) {
    throw cvError(err);
  }
}

type Track = <M extends { delete(): void }>(m: M) => M;
type Affine = [number, number, number, number, number, number];

/** Rotation by `deg` about `(cx, cy)` with `scale`, as opencv's getRotationMatrix2D builds it. */
function rotation(cx: number, cy: number, deg: number, scale: number): Affine {
  const a = Math.cos((deg * Math.PI) / 180) * scale;
  const b = Math.sin((deg * Math.PI) / 180) * scale;
  return [a, b, (1 - a) * cx - b * cy, -b, a, b * cx + (1 - a) * cy];
}

function invert([a, b, tx, c, d, ty]: Affine): Affine {
  const det = a * d - b * c;
  return [d / det, -b / det, (b * ty - d * tx) / det, -c / det, a / det, (c * tx - a * ty) / det];
}

const apply = (m: Affine, x: number, y: number): [number, number] => [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];

function warp(src: CvMat, m: Affine, width: number, height: number, track: Track): CvMat {
  const c = cv();
  const mat = track(c.matFromArray(2, 3, c.CV_64FC1, m));
  const out: CvMat = track(new c.Mat());
  c.warpAffine(src, out, mat, new c.Size(width, height), c.INTER_LINEAR, c.BORDER_REPLICATE, new c.Scalar());
  return out;
}

interface Detection {
  box: Box;
  /** Tilt of the face implied by the rotated pass that found it; the eyes refine it. */
  hintDeg: number;
}

function detectBoxes(gray: CvMat, cascades: Cascades, opts: DetectOptions, track: Track): Detection[] {
  const c = cv();
  const scale = Math.min(1, opts.detectMaxSide / Math.max(gray.cols, gray.rows));
  const small: CvMat = track(new c.Mat());
  const sw = Math.max(1, Math.round(gray.cols * scale));
  const sh = Math.max(1, Math.round(gray.rows * scale));
  c.resize(gray, small, new c.Size(sw, sh), 0, 0, c.INTER_AREA);
  // Histogram equalisation makes the Haar features robust to under/over-exposed photos.
  c.equalizeHist(small, small);
  const found: Detection[] = [];
  for (const deg of opts.angles) {
    // A face tilted by `deg` is upright in the copy rotated by `deg`; map its centre back with the inverse.
    const m = rotation(sw / 2, sh / 2, deg, 1);
    const view = deg === 0 ? small : warp(small, m, sw, sh, track);
    const back = invert(m);
    const rects = track(new c.RectVector());
    const minSide = deg === 0 ? opts.minFaceSide : opts.rotatedMinFaceSide;
    const min = new c.Size(minSide, minSide);
    cascades.face.detectMultiScale(view, rects, opts.scaleFactor, opts.minNeighbors, 0, min, new c.Size(0, 0));
    for (let i = 0; i < rects.size(); i++) {
      const r: CvRect = rects.get(i);
      const [cx, cy] = apply(back, r.x + r.width / 2, r.y + r.height / 2);
      const side = r.width / scale;
      const box = clampBox(cx / scale - side / 2, cy / scale - side / 2, side, gray.cols, gray.rows);
      if (!found.some((f) => overlaps(f.box, box))) found.push({ box, hintDeg: deg });
    }
  }
  // Stable order (left to right, then top to bottom) so clients can match faces across calls.
  return found.sort((a, b) => a.box.x - b.box.x || a.box.y - b.box.y);
}

function clampBox(x: number, y: number, side: number, cols: number, rows: number): Box {
  const x0 = Math.max(0, Math.round(x));
  const y0 = Math.max(0, Math.round(y));
  return { x: x0, y: y0, width: Math.min(cols, Math.round(x + side)) - x0, height: Math.min(rows, Math.round(y + side)) - y0 };
}

/** Same face found twice (by two rotated passes): centres closer than half the smaller box. */
function overlaps(a: Box, b: Box): boolean {
  const dx = a.x + a.width / 2 - (b.x + b.width / 2);
  const dy = a.y + a.height / 2 - (b.y + b.height / 2);
  return Math.hypot(dx, dy) < Math.min(a.width, b.width) / 2;
}

/**
 * Warps the face into an upright EYE_PATCH square (using the detector's hint), searches eyes in its upper 60 %
 * (falling back to the eyeglasses cascade), and returns the total tilt: hint plus the residual eye-line angle.
 */
function findEyes(gray: CvMat, box: Box, hintDeg: number, cascades: Cascades, track: Track): { angleDeg: number; eyesFound: number } {
  const c = cv();
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const m = rotation(cx, cy, hintDeg, EYE_PATCH / Math.max(box.width, box.height));
  m[2] += EYE_PATCH / 2 - cx;
  m[5] += EYE_PATCH / 2 - cy;
  const patch = warp(gray, m, EYE_PATCH, EYE_PATCH, track);
  // No histogram equalisation here (unlike the face pass): on the test photos it amplified glasses and brows
  // into the eye cascade's way, finding both eyes in 15 of 23 faces instead of 18.
  const upper: CvMat = track(patch.roi(new c.Rect(0, 0, EYE_PATCH, Math.round(EYE_PATCH * 0.6))));
  let best = { residual: 0, eyesFound: 0 };
  for (const cascade of [cascades.eye, cascades.eyeglasses]) {
    const pair = eyePair(upper, cascade, track);
    if (pair.eyesFound > best.eyesFound) best = pair;
    if (best.eyesFound === 2) break;
  }
  const angleDeg = hintDeg + best.residual;
  return { angleDeg: Math.round(angleDeg * 10) / 10, eyesFound: best.eyesFound };
}

function eyePair(upper: CvMat, cascade: Cascades['eye'], track: Track): { residual: number; eyesFound: number } {
  const c = cv();
  const rects = track(new c.RectVector());
  const minEye = Math.round(EYE_PATCH / 10);
  // Eyes are ~1/5 of the patch; capping the search at 1/3 (not 1/2) skips pyramid levels that never held a
  // pair on the test photos.
  const maxEye = Math.round(EYE_PATCH / 3);
  cascade.detectMultiScale(upper, rects, 1.1, 3, 0, new c.Size(minEye, minEye), new c.Size(maxEye, maxEye));
  const mid = EYE_PATCH / 2;
  let left: CvRect | undefined;
  let right: CvRect | undefined;
  for (let i = 0; i < rects.size(); i++) {
    const r: CvRect = rects.get(i);
    if (r.x + r.width / 2 < mid) {
      if (!left || r.width > left.width) left = r;
    } else if (!right || r.width > right.width) right = r;
  }
  const eyesFound = (left ? 1 : 0) + (right ? 1 : 0);
  if (!left || !right) return { residual: 0, eyesFound };
  const dx = right.x + right.width / 2 - (left.x + left.width / 2);
  const dy = right.y + right.height / 2 - (left.y + left.height / 2);
  const residual = (Math.atan2(dy, dx) * 180) / Math.PI;
  if (Math.abs(residual) > MAX_RESIDUAL_DEG) return { residual: 0, eyesFound: 0 };
  return { residual, eyesFound };
}

/**
 * Rotate about the face centre by `angleDeg` (levels the eyes), scale the margin-padded box to 48x48 and crop,
 * in one warpAffine. Large faces are first shrunk with INTER_AREA to ~2x the output so the warp's bilinear
 * sampling does not alias.
 */
function cropAligned(gray: CvMat, box: Box, angleDeg: number, margin: number, track: Track): Uint8Array {
  const c = cv();
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const side = Math.max(box.width, box.height) * (1 + 2 * margin);
  const reach = side * 0.75; // half-diagonal of the rotated crop (side * sqrt(2) / 2) plus slack
  const x0 = Math.max(0, Math.floor(cx - reach));
  const y0 = Math.max(0, Math.floor(cy - reach));
  const x1 = Math.min(gray.cols, Math.ceil(cx + reach));
  const y1 = Math.min(gray.rows, Math.ceil(cy + reach));
  const roi: CvMat = track(gray.roi(new c.Rect(x0, y0, x1 - x0, y1 - y0)));
  const k = Math.min(1, (2 * FACE_SIZE) / side);
  let src = roi;
  if (k < 1) {
    src = track(new c.Mat());
    c.resize(roi, src, new c.Size(Math.max(1, Math.round(roi.cols * k)), Math.max(1, Math.round(roi.rows * k))), 0, 0, c.INTER_AREA);
  }
  const ccx = (cx - x0) * (src.cols / roi.cols);
  const ccy = (cy - y0) * (src.rows / roi.rows);
  const m = rotation(ccx, ccy, angleDeg, (FACE_SIZE * src.cols) / (side * roi.cols));
  // Move the face centre to the centre of the 48x48 output.
  m[2] += FACE_SIZE / 2 - ccx;
  m[5] += FACE_SIZE / 2 - ccy;
  return Uint8Array.from(warp(src, m, FACE_SIZE, FACE_SIZE, track).data);
}
