import { intersectionOverUnion, type ScoredBox } from './boxes';
import type { Box, Detection, Detections } from './detector';

/** How the CNN detectors (cnn.ts, blazeface.ts) merge the boxes of their passes into one detection per face. */

export interface ScoredDetection extends Detection {
  score: number;
  /**
   * Which search found it: the detector upright or turned, MTCNN's small-face stages, or (`belowReach`) BlazeFace
   * on a face smaller than it frames reliably while the small-face search is on.
   */
  pass: 'upright' | 'turned' | 'small' | 'belowReach';
}

const PASS_ORDER = { upright: 0, turned: 1, small: 2, belowReach: 3 } as const;
/** Boxes of two passes overlapping more than this are the same face (face-api's IOU_THRESHOLD). */
const SAME_FACE_IOU = 0.4;

/**
 * One detection per face across the passes: upright boxes first, best score first, then the turned passes' boxes
 * of faces not found yet (they are there to add leaning heads; an upright face is framed and landmarked best
 * upright), then the small-face search's (the detector's framing is the one crops and landmarks were tuned on),
 * then BlazeFace's boxes below its reach (MTCNN frames small faces better; these add the ones it missed). A box is
 * of a face already kept when it overlaps its box by SAME_FACE_IOU or its centre is within half the smaller side (a
 * turned pass frames a face differently).
 */
export function sameFaceOnce(found: ScoredDetection[]): ScoredDetection[] {
  const kept: ScoredDetection[] = [];
  const near = (a: Box, b: Box) =>
    Math.hypot(a.x + a.width / 2 - b.x - b.width / 2, a.y + a.height / 2 - b.y - b.height / 2) < Math.min(a.width, b.width) / 2;
  for (const d of [...found].sort((a, b) => PASS_ORDER[a.pass] - PASS_ORDER[b.pass] || b.score - a.score)) {
    if (kept.every((k) => intersectionOverUnion(k.box, d.box) <= SAME_FACE_IOU && !near(k.box, d.box))) kept.push(d);
  }
  return kept;
}

/** Boxes near the border reach outside the image; keep the inside part, drop slivers. */
export function clampToImage(b: Box, cols: number, rows: number): Box | undefined {
  const x0 = Math.max(0, Math.round(b.x));
  const y0 = Math.max(0, Math.round(b.y));
  const x1 = Math.min(cols, Math.round(b.x + b.width));
  const y1 = Math.min(rows, Math.round(b.y + b.height));
  if (x1 - x0 < 4 || y1 - y0 < 4) return undefined;
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * The detector's boxes with the small-face search's, when it runs (`small`). The detector's own boxes of one face
 * are merged first, best score first whatever their size (a small box held back must not lose its face to a
 * larger, lower-scored box of it). Those are final at once, except the ones `belowReach` (too small for the
 * detector to frame well), which wait behind MTCNN's: they are merged when the search answers, as sameFaceOnce
 * orders the passes, and only the faces that adds come `more`.
 */
export function stagedFaces(
  own: ScoredDetection[],
  small: Promise<ScoredBox[]> | undefined,
  img: { width: number; height: number },
  toDetection: (d: ScoredDetection) => Detection,
  belowReach: (d: ScoredDetection) => boolean = () => false,
): Detections {
  const merged = sameFaceOnce(own);
  if (!small) return { found: merged.map(toDetection) };
  const held = merged.filter(belowReach);
  const sure = merged.filter((d) => !held.includes(d));
  const more = small.then((boxes) => {
    const searched = boxes.flatMap((b): ScoredDetection[] => {
      const box = clampToImage(b, img.width, img.height);
      return box ? [{ box, hintDeg: 0, score: b.score, pass: 'small' }] : [];
    });
    return sameFaceOnce([...sure, ...searched, ...held.map((d): ScoredDetection => ({ ...d, pass: 'belowReach' }))])
      .slice(sure.length)
      .map(toDetection);
  });
  // Handled here too: a caller that fails before awaiting it must not leave an unhandled rejection behind.
  more.catch(() => undefined);
  return { found: sure.map(toDetection), more };
}
