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
