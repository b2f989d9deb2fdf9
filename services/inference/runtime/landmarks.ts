import { apply, invert } from './affine';
import { boxTransform, cropWarp, grayMat } from './crop';
import { withMats } from './cv';
import type { GrayImage } from './decode';
import { openCropNet } from './face-net';
import type { Box, Detection } from './detectors/detector';

/**
 * 68-point face landmarks (the iBUG 300-W scheme) from face-api.js's face_landmark_68_model, converted to ONNX by
 * infra/face-detector/convert_landmarks.py. The graph takes (N, 1, 112, 112) raw gray crops and answers (N, 136):
 * 68 (x, y) pairs in [0, 1] of the crop. All faces of a photo go through in one batched run.
 */

export const LANDMARK_INPUT = 112;
const POINTS = 68;

export type Point = [number, number];

/** The points alignment uses, in photo pixels; "left" is the eye on the image's left (the subject's right eye). */
export interface FacePoints {
  leftEye: Point;
  rightEye: Point;
  nose: Point;
  mouthLeft: Point;
  mouthRight: Point;
}

export interface LandmarkNet {
  /** `crops`: N 112x112 gray crops, row-major, back to back; answers N x 68 points in [0, 1] of each crop. */
  run(crops: Float32Array, n: number): Promise<Point[][]>;
  close(): Promise<void>;
}

/** Loads the converted landmark net; a missing file says how to make it. */
export async function loadLandmarkNet(modelFile: string): Promise<LandmarkNet> {
  const net = await openCropNet(modelFile, {
    name: 'face landmark net',
    input: 'crops',
    output: 'landmarks',
    side: LANDMARK_INPUT,
    howToMake: "run `npm run bootstrap` (it converts face-api's 68-point landmark net from node_modules), or set FEROPS_FACE_LANDMARK_MODEL",
  });
  return {
    async run(crops, n) {
      const v = await net.run(crops, n);
      return Array.from({ length: n }, (_, i) => Array.from({ length: POINTS }, (_, p): Point => [v[i * 2 * POINTS + 2 * p], v[i * 2 * POINTS + 2 * p + 1]]));
    },
    close: () => net.close(),
  };
}

const mean = (pts: Point[]): Point => [pts.reduce((a, p) => a + p[0], 0) / pts.length, pts.reduce((a, p) => a + p[1], 0) / pts.length];

/** The five alignment points of one face, from its 68 points in [0, 1] of its crop; `toPhoto` maps those to photo pixels. */
export function facePoints(points: Point[], toPhoto: (p: Point) => Point): FacePoints {
  if (points.length !== POINTS) throw new Error(`expected ${POINTS} landmarks, got ${points.length}`);
  return {
    leftEye: toPhoto(mean(points.slice(36, 42))),
    rightEye: toPhoto(mean(points.slice(42, 48))),
    nose: toPhoto(points[30]),
    mouthLeft: toPhoto(points[48]),
    mouthRight: toPhoto(points[54]),
  };
}

/**
 * Plausible inter-ocular distance as a fraction of the face box side (frontal to half-profile faces), for the Tiny
 * Face Detector's framing; a detector framing faces more steadily says its own (FaceDetector.eyeDistanceRange).
 */
const IOD_RANGE: readonly [number, number] = [0.18, 0.6];
/** Landmarks less trusted than this (landmarkConfidence, 0..1) are not aligned on. */
export const MIN_LANDMARK_CONFIDENCE = 0.5;
/** How far (degrees) the eyes-to-mouth axis may lean from perpendicular to the eye line before trust is gone. */
const SKEW_LIMIT_DEG = 30;

/**
 * How much the points look like a face (0..1): the net always answers 68 points, even on a wall, so trust is
 * checked against face geometry rather than taken from the net. Two checks, the weaker wins:
 * - the eye distance is a plausible fraction of the detector's box (a mis-placed crop squeezes or spreads it);
 * - the line from the eyes' midpoint to the mouth's is near perpendicular to the eye line (a real face's is,
 *   whatever its tilt; scattered points are not), falling linearly to 0 at SKEW_LIMIT_DEG off.
 */
export function landmarkConfidence(p: FacePoints, boxSide: number, iodRange: readonly [number, number] = IOD_RANGE): number {
  const ex = p.rightEye[0] - p.leftEye[0];
  const ey = p.rightEye[1] - p.leftEye[1];
  const iod = Math.hypot(ex, ey);
  const ratio = iod / boxSide;
  if (!(ratio >= iodRange[0] && ratio <= iodRange[1])) return 0;
  const mx = (p.mouthLeft[0] + p.mouthRight[0] - p.leftEye[0] - p.rightEye[0]) / 2;
  const my = (p.mouthLeft[1] + p.mouthRight[1] - p.leftEye[1] - p.rightEye[1]) / 2;
  const down = Math.hypot(mx, my);
  if (down === 0) return 0;
  // The eye line turned a quarter clockwise points at the mouth on an upright face (y grows downwards).
  const cos = (-ey * mx + ex * my) / (iod * down);
  if (cos <= 0) return 0; // mouth above the eyes
  const skewDeg = (Math.acos(Math.min(1, cos)) * 180) / Math.PI;
  return Math.round(Math.max(0, 1 - skewDeg / SKEW_LIMIT_DEG) * 100) / 100;
}

/** Tilt in degrees of the line from the image-left eye to the other (positive: the image-right eye is lower). */
export function eyeLineDeg(left: Point, right: Point): number {
  return (Math.atan2(right[1] - left[1], right[0] - left[0]) * 180) / Math.PI;
}

/**
 * A face whose trusted points put its eye line further than this (degrees) from the detector's hint was seen leaning
 * in its crop, where the net places points worst (a three-quarter face's BlazeFace keypoints can be far off; the Tiny
 * Face Detector's hint is only its pass's angle); it is looked at once more, turned by that first answer and centred
 * on it, and the second answer replaces the first when it is trusted too (docs/inference.md#landmarks-and-alignment).
 */
const RELOOK_DEG = 10;

/**
 * The second look's crop: the detector's box, moved to centre on the face the first answer found (the midpoint of
 * the eyes' and the mouth's centres). A leaning face's box sits off its centre by an amount that changes with the
 * photo's turn, and the net places points by where the face sits in its crop; centred on the face itself, the same
 * face is seen alike at every turn (docs/inference.md#landmarks-and-alignment).
 */
function centredOn(p: FacePoints, box: Box): Box {
  const [cx, cy] = mean([mean([p.leftEye, p.rightEye]), mean([p.mouthLeft, p.mouthRight])]);
  const side = Math.max(box.width, box.height);
  return { x: cx - side / 2, y: cy - side / 2, width: side, height: side };
}

/**
 * Landmarks for every face in one batched run: each face's box square (turned upright by the detector's hint) and
 * its mirror image, and the mean of the two answers (the mirror's left and right swapped back). Averaging cancels
 * the net's left-right bias, which shows as a tilt error on turned heads (docs/inference.md#landmarks-and-alignment).
 * Faces the hint left leaning (RELOOK_DEG) get a second batched run; `iodRange` is the detector's landmarkConfidence range.
 */
export async function locateLandmarks(
  img: GrayImage,
  faces: Detection[],
  net: LandmarkNet,
  iodRange?: readonly [number, number],
): Promise<FacePoints[]> {
  const first = await landmarkPass(img, faces, net);
  const trusted = (p: FacePoints, f: Detection) => landmarkConfidence(p, Math.max(f.box.width, f.box.height), iodRange) >= MIN_LANDMARK_CONFIDENCE;
  const leaning = faces.flatMap((f, i) => {
    const deg = eyeLineDeg(first[i].leftEye, first[i].rightEye);
    return trusted(first[i], f) && Math.abs(deg - f.hintDeg) > RELOOK_DEG ? [{ i, face: { ...f, box: centredOn(first[i], f.box), hintDeg: deg } }] : [];
  });
  if (leaning.length === 0) return first;
  const second = await landmarkPass(img, leaning.map((l) => l.face), net);
  leaning.forEach((l, k) => {
    if (trusted(second[k], l.face)) first[l.i] = second[k];
  });
  return first;
}

async function landmarkPass(img: GrayImage, faces: Detection[], net: LandmarkNet): Promise<FacePoints[]> {
  const side = LANDMARK_INPUT;
  const plane = side * side;
  const crops = new Float32Array(2 * faces.length * plane);
  // Turned by the pass that found it, a face is upright in its crop, as the net was trained on.
  const transforms = faces.map(({ box, hintDeg }) => boxTransform(box, hintDeg, 0, side));
  withMats((track) => {
    const gray = grayMat(img, track);
    transforms.forEach((m, i) => {
      const crop = cropWarp(gray, m, track, side);
      crops.set(crop, 2 * i * plane);
      const mirror = crops.subarray((2 * i + 1) * plane, (2 * i + 2) * plane);
      for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) mirror[y * side + x] = crop[y * side + side - 1 - x];
    });
  });
  const points = await net.run(crops, 2 * faces.length);
  return transforms.map((m, i) => {
    const back = invert(m);
    const toPhoto = ([x, y]: Point): Point => apply(back, x * side, y * side);
    const direct = facePoints(points[2 * i], toPhoto);
    // Mirror pixel x came from x' = side - 1 - x, so a point at fraction f of the mirror is at (side - 1) / side - f.
    const mirrored = facePoints(points[2 * i + 1].map(([x, y]): Point => [(side - 1) / side - x, y]), toPhoto);
    return {
      leftEye: mean([direct.leftEye, mirrored.rightEye]),
      rightEye: mean([direct.rightEye, mirrored.leftEye]),
      nose: mean([direct.nose, mirrored.nose]),
      mouthLeft: mean([direct.mouthLeft, mirrored.mouthRight]),
      mouthRight: mean([direct.mouthRight, mirrored.mouthLeft]),
    };
  });
}
