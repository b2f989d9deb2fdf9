import { FACE_SIZE } from '../../../lib/labels';
import { rotation, type Track, warp } from './affine';
import { type Cascades, cv, type CvMat, type CvRect, cvError, loadCascades, withMats } from './cv';
import type { GrayImage } from './decode';
import type { Box, DetectConfig, Detection, FaceDetector } from './detectors/detector';
import { type DetectorName, type DetectorSettings, detectorSettings, loadDetector } from './detectors';

export type { Box } from './detectors/detector';

/**
 * Face detection and alignment on a grayscale image:
 * 1. faces found by the configured detector (runtime/detectors: the Tiny Face Detector CNN by default, or Haar
 *    cascades), boxes in full-size pixels;
 * 2. eyes searched with haarcascade_eye in the upper part of each face, at full resolution;
 * 3. one affine warp that rotates about the face centre so the eyes are level, scales and crops (with a margin)
 *    straight to the 48x48 model input.
 */

/** What a thread needs to find faces; plain data, so it can be handed to a worker thread. */
export interface FaceSetup {
  cascadeDir: string;
  detector: DetectorSettings;
  /** In-plane tilts (degrees) the eye search tries when the detector's hint finds no pair. */
  eyeTilts: number[];
}

/** The setup the service config asks for (FEROPS_FACE_DETECTOR, FEROPS_DETECT_*, FEROPS_CASCADE_DIR). */
export function faceSetup(config: DetectConfig & { cascadeDir: string; faceDetector: DetectorName }): FaceSetup {
  return { cascadeDir: config.cascadeDir, detector: detectorSettings(config.faceDetector, config), eyeTilts: config.detectAngles };
}

/** One thread's loaded detector and cascades (eyes are always found with Haar, on the small face patch). */
export interface FaceEngine {
  cascades: Cascades;
  /** In-plane tilts (degrees) the eye search tries when the detector's hint finds no pair. */
  eyeTilts: number[];
  detector: FaceDetector;
}

export async function createFaceEngine(setup: FaceSetup): Promise<FaceEngine> {
  const cascades = loadCascades(setup.cascadeDir);
  return { cascades, eyeTilts: setup.eyeTilts, detector: await loadDetector(setup.detector, cascades) };
}

/** Fraction of the face box added on every side before cropping: FER2013 crops include the chin and brow. */
const MARGIN = 0.1;
/**
 * Side of the upright face patch the eye cascade searches; fixed so eye sizes are predictable (~20 px, the eye
 * cascade's window). 100 rather than 150: at 150 the eye search was most of the per-face cost, and at 100 both eyes
 * are found at least as often on the test photos (docs/inference.md#design-measurements-moved-from-code-comments).
 */
const EYE_PATCH = 100;
/** Eye pairs implying a larger residual tilt than this are false positives (nostrils, brows). */
const MAX_RESIDUAL_DEG = 25;

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
export async function findFaces(img: GrayImage, engine: FaceEngine, detect: boolean): Promise<FaceResult> {
  if (img.data.length !== img.width * img.height) {
    throw new Error(`gray image has ${img.data.length} bytes for ${img.width}x${img.height} pixels`);
  }
  const t0 = performance.now();
  let found: Detection[];
  try {
    found = detect ? await engine.detector.detect(img) : [{ box: { x: 0, y: 0, width: img.width, height: img.height }, hintDeg: 0 }];
  } catch (err) {
    throw cvError(err);
  }
  // Stable order (left to right, then top to bottom) so clients can match faces across calls.
  found.sort((a, b) => a.box.x - b.box.x || a.box.y - b.box.y);
  const t1 = performance.now();
  try {
    const faces = withMats((track) => {
      const c = cv();
      const gray: CvMat = track(new c.Mat(img.height, img.width, c.CV_8UC1));
      gray.data.set(img.data);
      return found.map(({ box, hintDeg }) => {
        const alignment = detect ? alignEyes(gray, box, hintDeg, engine.eyeTilts, engine.cascades, track) : { angleDeg: 0, eyesFound: 0 };
        // Whole-image mode: the caller already cropped the face, so no margin is added around it.
        const pixels = cropAligned(gray, box, alignment.angleDeg, detect ? MARGIN : 0, track);
        return { box, alignment, pixels };
      });
    });
    return { faces, detectMs: t1 - t0, alignMs: performance.now() - t1 };
  } catch (err) {
    throw cvError(err);
  }
}

/**
 * Eyes at the detector's hint first; when a pair is not found there, at the other `tilts` too (the eye cascade
 * misses eyes tilted by more than ~15 degrees, and the CNN gives no tilt hint). On the test photos that finds both
 * eyes in more of the CNN's faces, for a small cost per extra tilt
 * (docs/inference.md#design-measurements-moved-from-code-comments).
 */
function alignEyes(gray: CvMat, box: Box, hintDeg: number, tilts: number[], cascades: Cascades, track: Track): { angleDeg: number; eyesFound: number } {
  let best = findEyes(gray, box, hintDeg, cascades, track);
  for (const tilt of tilts) {
    if (best.eyesFound === 2) break;
    if (tilt === hintDeg) continue;
    // Only a pair measures a tilt; one eye found at a tried tilt says nothing about the face's angle.
    const other = findEyes(gray, box, tilt, cascades, track);
    if (other.eyesFound === 2) best = other;
  }
  return best;
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
  // `side` is in photo pixels and src is the ROI shrunk by src.cols / roi.cols, so the face spans side * src.cols / roi.cols here.
  const m = rotation(ccx, ccy, angleDeg, (FACE_SIZE * roi.cols) / (side * src.cols));
  // Move the face centre to the centre of the 48x48 output.
  m[2] += FACE_SIZE / 2 - ccx;
  m[5] += FACE_SIZE / 2 - ccy;
  return Uint8Array.from(warp(src, m, FACE_SIZE, FACE_SIZE, track).data);
}
