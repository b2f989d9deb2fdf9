import { cv, type CvMat } from './cv';

/** 2x3 affine matrices as opencv's warpAffine takes them, and the one warp the face pipeline uses. */
export type Affine = [number, number, number, number, number, number];
export type Track = <M extends { delete(): void }>(m: M) => M;

/** Rotation by `deg` about `(cx, cy)` with `scale`, as opencv's getRotationMatrix2D builds it. */
export function rotation(cx: number, cy: number, deg: number, scale: number): Affine {
  const a = Math.cos((deg * Math.PI) / 180) * scale;
  const b = Math.sin((deg * Math.PI) / 180) * scale;
  return [a, b, (1 - a) * cx - b * cy, -b, a, b * cx + (1 - a) * cy];
}

export function invert([a, b, tx, c, d, ty]: Affine): Affine {
  const det = a * d - b * c;
  return [d / det, -b / det, (b * ty - d * tx) / det, -c / det, a / det, (c * tx - a * ty) / det];
}

export const apply = (m: Affine, x: number, y: number): [number, number] => [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];

/** Bilinear warp; borders replicate the edge so a crop reaching outside the photo is not framed in black. */
export function warp(src: CvMat, m: Affine, width: number, height: number, track: Track): CvMat {
  const c = cv();
  const mat = track(c.matFromArray(2, 3, c.CV_64FC1, m));
  const out: CvMat = track(new c.Mat());
  c.warpAffine(src, out, mat, new c.Size(width, height), c.INTER_LINEAR, c.BORDER_REPLICATE, new c.Scalar());
  return out;
}

/**
 * The least-squares similarity (rotation, uniform scale, translation) taking points `from` onto `to`: the closed
 * form of Umeyama's method in 2-D. It is what cv.estimateAffinePartial2D fits, without its RANSAC, which five
 * landmarks of one face do not need.
 */
export function similarity(from: ReadonlyArray<readonly [number, number]>, to: ReadonlyArray<readonly [number, number]>): Affine {
  if (from.length !== to.length || from.length < 2) throw new Error(`similarity needs two or more point pairs, got ${from.length} and ${to.length}`);
  const n = from.length;
  const [fx, fy] = from.reduce(([a, b], p) => [a + p[0] / n, b + p[1] / n], [0, 0]);
  const [tx, ty] = to.reduce(([a, b], p) => [a + p[0] / n, b + p[1] / n], [0, 0]);
  let dot = 0;
  let cross = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const [ux, uy] = [from[i][0] - fx, from[i][1] - fy];
    const [vx, vy] = [to[i][0] - tx, to[i][1] - ty];
    dot += ux * vx + uy * vy;
    cross += ux * vy - uy * vx;
    norm += ux * ux + uy * uy;
  }
  if (norm === 0) throw new Error('similarity: the source points all coincide');
  const a = dot / norm;
  const b = cross / norm;
  return [a, -b, tx - a * fx + b * fy, b, a, ty - b * fx - a * fy];
}
