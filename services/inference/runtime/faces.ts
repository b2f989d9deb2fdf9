import { dirname, join } from 'node:path';
import { FACE_SIZE } from '../../../lib/labels';
import { rotation, similarity, type Track, warp } from './affine';
import { boxTransform, cropBatch, cropWarp, grayMat } from './crop';
import { type Cascades, cv, type CvMat, type CvRect, cvError, loadCascades, withMats } from './cv';
import type { GrayImage } from './decode';
import type { Box, DetectConfig, Detection, FaceDetector, SmallFaceProposals } from './detectors/detector';
import { type DetectorName, type DetectorSettings, detectorSettings, loadDetector } from './detectors';
import { type FaceVerifier, loadFaceVerifier, VERIFY_INPUT } from './face-verifier';
import { eyeLineDeg, type FacePoints, landmarkConfidence, type LandmarkNet, MIN_LANDMARK_CONFIDENCE, loadLandmarkNet, locateLandmarks, type Point } from './landmarks';

export type { Box } from './detectors/detector';

/**
 * Face detection and alignment on a grayscale image:
 * 1. faces found by the configured detector (runtime/detectors: BlazeFace by default, the Tiny Face Detector, or Haar
 *    cascades), boxes in full-size pixels;
 * 2. with a CNN detector, 68 landmarks per face from the landmark net (one batched run for all faces, one more for
 *    faces it saw leaning), and one similarity warp that puts the eyes, nose tip and mouth corners at fixed places of
 *    the 48x48 model input;
 *    with the Haar detector, its companion eye cascades level the eyes and the box sets the scale;
 * 3. a face whose points are not trusted is cropped from its box, unrotated, and says so (`method: 'none'`);
 * 4. with a CNN detector, MTCNN's O-Net scores each box square (turned upright) as face or not, in one batched
 *    run: boxes under the minimum score are dropped, the rest report their `faceScore`.
 */

/** What a thread needs to find faces; plain data, so it can be handed to a worker thread. */
export interface FaceSetup {
  cascadeDir: string;
  detector: DetectorSettings;
  /** In-plane tilts (degrees) the Haar eye search tries when the detector's hint finds no pair; unused with landmarks. */
  eyeTilts: number[];
  /** The landmark net that aligns the CNN detectors' faces; absent with Haar, which keeps its eye cascades. */
  landmarkModel?: string;
  /** The face verifier (O-Net) that scores the CNN detectors' boxes, and the score a box needs to be kept; not with Haar. */
  verifier?: { model: string; minScore: number };
}

/** The setup the service config asks for (FEROPS_FACE_DETECTOR, FEROPS_DETECT_*, FEROPS_CASCADE_DIR, FEROPS_FACE_*). */
export function faceSetup(
  config: DetectConfig & { cascadeDir: string; faceDetector: DetectorName; faceLandmarkModel?: string; faceVerifierModel?: string; minFaceScore: number },
): FaceSetup {
  // Bootstrap and the container image convert the nets into one directory, so the detector's path finds the others.
  const beside = (file: string) => join(dirname(config.faceDetectorModel), file);
  return {
    cascadeDir: config.cascadeDir,
    detector: detectorSettings(config.faceDetector, config),
    eyeTilts: config.detectAngles,
    ...(config.faceDetector !== 'haar'
      ? {
          landmarkModel: config.faceLandmarkModel ?? beside('face_landmark_68.onnx'),
          verifier: { model: config.faceVerifierModel ?? beside('mtcnn_onet.onnx'), minScore: config.minFaceScore },
        }
      : {}),
  };
}

/** One thread's loaded detector, its cascades (Haar only) and (with a CNN detector) landmark net. */
export interface FaceEngine {
  /** The thread's Haar cascades, loaded on first use: the CNN detectors' faces align on landmarks and never need them. */
  cascades: () => Cascades;
  /** In-plane tilts (degrees) the eye search tries when the detector's hint finds no pair. */
  eyeTilts: number[];
  detector: FaceDetector;
  landmarks?: LandmarkNet;
  verifier?: { net: FaceVerifier; minScore: number };
}

export async function createFaceEngine(setup: FaceSetup): Promise<FaceEngine> {
  const cascades = () => loadCascades(setup.cascadeDir); // cached per thread after the first call
  const detector = await loadDetector(setup.detector, cascades);
  let landmarks: LandmarkNet | undefined;
  try {
    landmarks = setup.landmarkModel ? await loadLandmarkNet(setup.landmarkModel) : undefined;
    const verifier = setup.verifier ? { net: await loadFaceVerifier(setup.verifier.model), minScore: setup.verifier.minScore } : undefined;
    return { cascades, eyeTilts: setup.eyeTilts, detector, ...(landmarks ? { landmarks } : {}), ...(verifier ? { verifier } : {}) };
  } catch (err) {
    await Promise.all([detector.close(), landmarks?.close()]);
    throw err;
  }
}

/** Releases the engine's onnxruntime sessions. */
export async function closeFaceEngine(engine: FaceEngine): Promise<void> {
  await Promise.all([engine.detector.close(), engine.landmarks?.close(), engine.verifier?.net.close()]);
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
/**
 * Where the similarity warp puts the five points in the 48x48 crop: insightface's 5-point mean face (ArcFace's
 * alignment template, 112x112), moved so the eyes sit where the box-based crops of upright faces put them on the
 * test photos (14.5 px apart, 19 px down): the framing the models were served before (Haar's, FER2013's).
 */
const CANONICAL = fitTemplate(
  {
    leftEye: [38.2946, 51.6963],
    rightEye: [73.5318, 51.5014],
    nose: [56.0252, 71.7366],
    mouthLeft: [41.5493, 92.3655],
    mouthRight: [70.7299, 92.2041],
  },
  14.5,
  19,
);

function fitTemplate(t: Record<keyof FacePoints, Point>, eyeDistance: number, eyeY: number): Readonly<Record<keyof FacePoints, Point>> {
  const k = eyeDistance / Math.hypot(t.rightEye[0] - t.leftEye[0], t.rightEye[1] - t.leftEye[1]);
  const mx = (t.leftEye[0] + t.rightEye[0]) / 2;
  const my = (t.leftEye[1] + t.rightEye[1]) / 2;
  const place = ([x, y]: Point): Point => [FACE_SIZE / 2 + (x - mx) * k, eyeY + (y - my) * k];
  return { leftEye: place(t.leftEye), rightEye: place(t.rightEye), nose: place(t.nose), mouthLeft: place(t.mouthLeft), mouthRight: place(t.mouthRight) };
}
const POINT_NAMES = Object.keys(CANONICAL) as (keyof FacePoints)[];

export interface Alignment {
  /** Rotation applied to level the face (degrees; positive: the face leaned clockwise); 0 when method is 'none'. */
  angleDeg: number;
  /** Eyes located: 2 with trusted landmarks, or the Haar eye cascades' count. */
  eyesFound: number;
  /** 'landmarks' (CNN points, similarity warp), 'eyes' (Haar eye pair), or 'none' (box crop, unrotated). */
  method: 'landmarks' | 'eyes' | 'none';
  /** Trust in the points (0..1); below 0.5 they are not used. */
  confidence: number;
  /** Eye centres in photo pixels (image-left eye first), when landmarks located them; trusted or not. */
  eyes: { left: Point; right: Point } | null;
}

export const NO_ALIGNMENT: Alignment = { angleDeg: 0, eyesFound: 0, method: 'none', confidence: 0, eyes: null };

export interface AlignedFace {
  box: Box;
  alignment: Alignment;
  /** The face verifier's probability that the box holds a face (0..1); null when no verifier ran (Haar, whole image). */
  faceScore: number | null;
  /** 48x48 grayscale crop, row-major. */
  pixels: Uint8Array;
}

export interface FaceResult {
  faces: AlignedFace[];
  detectMs: number;
  alignMs: number;
}

/**
 * Finds, aligns and crops every face; with `detect: false` the whole image is treated as one face. With the
 * small-face search on, `elsewhere` runs its P-Net stage on another thread: the detector's own faces are aligned
 * meanwhile, and the faces the search adds after it answers (each face still gets one landmark pass).
 */
export async function findFaces(img: GrayImage, engine: FaceEngine, detect: boolean, elsewhere?: SmallFaceProposals, minFace?: number): Promise<FaceResult> {
  if (img.data.length !== img.width * img.height) {
    throw new Error(`gray image has ${img.data.length} bytes for ${img.width}x${img.height} pixels`);
  }
  try {
    const t0 = performance.now();
    const { found, more } = detect ? await engine.detector.detect(img, elsewhere, minFace) : { found: [{ box: { x: 0, y: 0, width: img.width, height: img.height }, hintDeg: 0 }] };
    const t1 = performance.now();
    const faces = await alignFaces(img, engine, found.sort(byPosition), detect);
    const t2 = performance.now();
    const added = more ? await more : [];
    const t3 = performance.now();
    if (added.length > 0) faces.push(...(await alignFaces(img, engine, added.sort(byPosition), detect)));
    faces.sort(byPosition);
    // Waiting for the search counts as detection: its faces are found then.
    return { faces, detectMs: t1 - t0 + (t3 - t2), alignMs: t2 - t1 + (performance.now() - t3) };
  } catch (err) {
    throw cvError(err);
  }
}

/** Stable order (left to right, then top to bottom) so clients can match faces across calls. */
const byPosition = (a: { box: Box }, b: { box: Box }) => a.box.x - b.box.x || a.box.y - b.box.y;

/** Landmarks, warp and (with a verifier) the face score of each detection; boxes the verifier rejects are dropped. */
async function alignFaces(img: GrayImage, engine: FaceEngine, found: Detection[], detect: boolean): Promise<AlignedFace[]> {
  const points = detect && engine.landmarks ? await locateLandmarks(img, found, engine.landmarks, engine.detector.eyeDistanceRange) : undefined;
  const verifier = detect ? engine.verifier : undefined;
  const { faces, bars, verifyCrops } = withMats((track) => {
    const gray = grayMat(img, track);
    const aligned = found.map(({ box, hintDeg, confirmByLandmarks }, i): AlignedFace | undefined => {
      // Whole-image mode: the caller already cropped the face, so no margin is added around it.
      if (!detect) return { box, alignment: NO_ALIGNMENT, faceScore: null, pixels: cropWarp(gray, boxTransform(box, 0, 0), track) };
      if (points) {
        const onPoints = alignOnLandmarks(gray, box, points[i], engine.detector.eyeDistanceRange, track);
        // A turned pass finds more leaning heads and more things that are not faces: its boxes stay only when
        // the landmarks confirm a face (docs/inference.md#landmarks-and-alignment).
        return confirmByLandmarks && onPoints.alignment.method === 'none' ? undefined : { box, ...onPoints, faceScore: null };
      }
      const eyes = alignEyes(gray, box, hintDeg, engine.eyeTilts, engine.cascades(), track);
      const alignment: Alignment =
        eyes.eyesFound === 2 ? { ...eyes, method: 'eyes', confidence: 1, eyes: null } : { ...NO_ALIGNMENT, eyesFound: eyes.eyesFound };
      return { box, alignment, faceScore: null, pixels: cropWarp(gray, boxTransform(box, alignment.angleDeg, MARGIN), track) };
    });
    const faces = aligned.filter((f) => f !== undefined);
    const bars = found.filter((_, i) => aligned[i] !== undefined).map((d) => d.minFaceScore ?? 0);
    return { faces, bars, verifyCrops: verifier && faces.length > 0 ? verifierCrops(gray, faces, track) : undefined };
  });
  if (!verifyCrops) return faces;
  const { net, minScore } = verifier!; // crops are cut only when there is a verifier
  const scores = await net.run(verifyCrops, faces.length);
  faces.forEach((f, i) => (f.faceScore = Math.round(scores[i] * 1000) / 1000));
  return faces.filter((f, i) => f.faceScore! >= Math.max(minScore, bars[i]));
}

/**
 * The face verifier's input: each box square, turned upright by the landmarks' angle when they were trusted (O-Net
 * was trained on upright faces), shrunk to 48x48.
 */
function verifierCrops(gray: CvMat, faces: AlignedFace[], track: Track): Float32Array {
  return cropBatch(
    gray,
    faces.map(({ box, alignment }) => boxTransform(box, alignment.angleDeg, 0, VERIFY_INPUT)),
    track,
    VERIFY_INPUT,
  );
}

/** Trusted points: the similarity warp onto CANONICAL; untrusted: the box crop, unrotated, flagged 'none'. */
function alignOnLandmarks(
  gray: CvMat,
  box: Box,
  p: FacePoints,
  eyeDistanceRange: readonly [number, number] | undefined,
  track: Track,
): { alignment: Alignment; pixels: Uint8Array } {
  const confidence = landmarkConfidence(p, Math.max(box.width, box.height), eyeDistanceRange);
  const eyes = { left: roundPoint(p.leftEye), right: roundPoint(p.rightEye) };
  if (confidence < MIN_LANDMARK_CONFIDENCE) {
    return { alignment: { ...NO_ALIGNMENT, confidence, eyes }, pixels: cropWarp(gray, boxTransform(box, 0, MARGIN), track) };
  }
  const m = similarity(
    POINT_NAMES.map((k) => p[k]),
    POINT_NAMES.map((k) => CANONICAL[k]),
  );
  const angleDeg = Math.round(eyeLineDeg(p.leftEye, p.rightEye) * 10) / 10;
  return { alignment: { angleDeg, eyesFound: 2, method: 'landmarks', confidence, eyes }, pixels: cropWarp(gray, m, track) };
}

const roundPoint = ([x, y]: Point): Point => [Math.round(x * 10) / 10, Math.round(y * 10) / 10];

/**
 * Eyes at the detector's hint first; when a pair is not found there, at the other `tilts` too (the eye cascade
 * misses eyes tilted by more than ~15 degrees, and a face Haar found upright may still lean). That finds both eyes
 * in more faces, for a small cost per extra tilt (docs/inference.md#design-measurements-moved-from-code-comments).
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
  // No histogram equalisation here (unlike the face pass): it amplifies glasses and brows into the eye cascade's
  // way (docs/inference.md#design-measurements-moved-from-code-comments).
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

