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
  /** Tilt of the face implied by the pass that found it (Haar's rotated passes, the CNN's turned ones; 0 upright): the turn that makes it upright, which eyes or landmarks refine. */
  hintDeg: number;
}

/** One thread's loaded detector. */
export interface FaceDetector {
  /** Boxes in full-size pixels of `img`. */
  detect(img: GrayImage): Promise<Detection[]>;
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
  options(config: DetectConfig): Options;
  load(options: Options, cascades: () => Cascades): Promise<FaceDetector>;
}
