import type { Cascades } from '../cv';
import type { GrayImage } from '../decode';
import type { Proposal } from './small-faces';

/** The contract every face detector meets; a new one is a module exporting a `DetectorKind` plus one line in index.ts. */

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Detection {
  box: Box;
  /**
   * Tilt of the face, the turn that makes it upright, which eyes or landmarks refine: implied by the pass that found
   * it (Haar's rotated passes, the CNN's turned ones; 0 upright) or measured (BlazeFace's eye keypoints).
   */
  hintDeg: number;
  /** Found by a pass that also finds many non-faces (the CNN's turned passes): kept only if its landmarks are trusted. */
  confirmByLandmarks?: true;
  /** The face verifier's score this box needs, when the detector doubts it more than its others (FEROPS_MIN_FACE_SCORE). */
  minFaceScore?: number;
}

/**
 * The first, costliest stage of MTCNN's search for faces from `minFace` to `maxFace` image pixels: P-Net's candidate
 * faces with their box regression (runtime/detectors/small-faces.ts), which R-Net and O-Net then confirm.
 */
export type SmallFaceProposals = (img: GrayImage, minFace: number, maxFace: number) => Promise<Proposal[]>;

/** A detector's faces in two stages, so the caller can align the first while the small-face search still runs. */
export interface Detections {
  /** Faces final once the detector's own passes ran. */
  found: Detection[];
  /** With the small-face search on: the faces it adds (and the detector's boxes below its reach it did not frame). */
  more?: Promise<Detection[]>;
}

/** One thread's loaded detector. */
export interface FaceDetector {
  /**
   * Boxes in full-size pixels of `img`. `minFace`: the small-face search's smallest face for this photo (0: no
   * search), FEROPS_DETECT_MIN_FACE when absent. With the search on, its first stage runs `elsewhere` when given
   * (another thread, beside this detector's own passes), else on this thread.
   */
  detect(img: GrayImage, elsewhere?: SmallFaceProposals, minFace?: number): Promise<Detections>;
  /** This thread's first stage of the small-face search, which another thread's `detect` may ask for (not with Haar). */
  proposeSmallFaces?: SmallFaceProposals;
  /** Plausible eye distance over its box side, when its framing is steadier than landmarks.ts' default range. */
  eyeDistanceRange?: readonly [number, number];
  close(): Promise<void>;
}

/** The detection keys of the service config (services/inference/config.ts documents them and holds their defaults). */
export interface DetectConfig {
  faceDetectorModel: string;
  detectMaxSide: number;
  detectMinScore: number;
  detectAngles: number[];
  detectTilts: number[];
  detectMinFace: number;
  detectSearchPixels: number;
}

/**
 * A kind of detector: which config keys it reads (into its own plain-data options, which cross to worker threads)
 * and how a thread loads it (`cascades` loads that thread's Haar cascades, for a detector that searches with them).
 */
export interface DetectorKind<Options> {
  /** The file bootstrap converts its net into (in the face-net cache), when it has one. */
  modelFile?: string;
  /** The face verifier's score its boxes need to be kept (FEROPS_MIN_FACE_SCORE's default); none: not verified. */
  minFaceScore?: number;
  /** Searches small faces with MTCNN (FEROPS_DETECT_MIN_FACE, a request's `?minFace=`). */
  searchesSmallFaces?: true;
  options(config: DetectConfig): Options;
  load(options: Options, cascades: () => Cascades): Promise<FaceDetector>;
}
