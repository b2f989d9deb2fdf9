import type { Cascades } from '../cv';
import type { GrayImage } from '../decode';

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
}

/** One thread's loaded detector. */
export interface FaceDetector {
  /** Boxes in full-size pixels of `img`. */
  detect(img: GrayImage): Promise<Detection[]>;
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
  options(config: DetectConfig): Options;
  load(options: Options, cascades: () => Cascades): Promise<FaceDetector>;
}
