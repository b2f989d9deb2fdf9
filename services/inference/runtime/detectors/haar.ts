import { apply, invert, rotation, type Track, warp } from '../affine';
import { grayMat } from '../crop';
import { type Cascades, cv, type CvMat, type CvRect, cvError, withMats } from '../cv';
import type { GrayImage } from '../decode';
import type { Box, Detection, DetectorKind } from './detector';

export interface HaarOptions {
  /** Longest side of the copy searched (FEROPS_DETECT_MAX_SIDE). */
  maxSide: number;
  /** In-plane rotations searched, degrees; the first angle wins where detections overlap (FEROPS_DETECT_ANGLES). */
  angles: number[];
  /** Pyramid step. */
  scaleFactor: number;
  /** Overlapping hits needed to accept a face. */
  minNeighbors: number;
  /**
   * Smallest face the upright pass looks for, in pixels of the downscaled copy (the cascade's window is 24).
   * Haar cost is dominated by the first, largest pyramid levels (the smallest faces), so raising it is the
   * cheapest speed-up that keeps resolution: downscaling the copy instead lost faces on the real photos.
   */
  minFaceSide: number;
  /** Smallest face the rotated passes look for; tilted heads worth a second look are the large, close ones. */
  rotatedMinFaceSide: number;
}

/** Cascade settings tuned in issue #6 (docs/inference.md#design-measurements-moved-from-code-comments); not settings. */
const TUNED = { scaleFactor: 1.2, minNeighbors: 5, minFaceSide: 34, rotatedMinFaceSide: 48 };

export const haarDetector: DetectorKind<HaarOptions> = {
  options: (c) => ({ maxSide: c.detectMaxSide, angles: c.detectAngles, ...TUNED }),
  load: async (opts, cascades) => {
    const loaded = cascades(); // at load, so a bad FEROPS_CASCADE_DIR fails start-up
    return { detect: async (img) => ({ found: detectHaar(img, loaded, opts) }), close: async () => undefined };
  },
};

/**
 * Haar frontal-face detection (FEROPS_FACE_DETECTOR=haar): on a copy downscaled so its longest side is
 * `maxSide` (cost grows with pixel count), histogram-equalised, searched upright and at the extra
 * in-plane `angles` (the frontal cascade misses heads tilted more than ~10 degrees). Boxes map back to full size.
 * Many times slower than the CNN in opencv-wasm, hence not the default (see cnn.ts;
 * docs/inference.md#design-measurements-moved-from-code-comments).
 */
function detectHaar(img: GrayImage, cascades: Cascades, opts: HaarOptions): Detection[] {
  try {
    return withMats((track) => detectBoxes(grayMat(img, track), cascades, opts, track));
  } catch (err) {
    throw cvError(err);
  }
}

function detectBoxes(gray: CvMat, cascades: Cascades, opts: HaarOptions, track: Track): Detection[] {
  const c = cv();
  const scale = Math.min(1, opts.maxSide / Math.max(gray.cols, gray.rows));
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
  return found;
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
