import { FACE_SIZE } from '../../../lib/labels';
import { type Affine, apply, invert, rotation, type Track, warp } from './affine';
import { cv, type CvMat } from './cv';
import type { GrayImage } from './decode';
import type { Box } from './detectors/detector';

/** The warps that cut faces out of a photo: the square crops the landmark net and the model are served. */

export function grayMat(img: GrayImage, track: Track): CvMat {
  const c = cv();
  const gray: CvMat = track(new c.Mat(img.height, img.width, c.CV_8UC1));
  gray.data.set(img.data);
  return gray;
}

/** Photo -> `size` square crop: rotate about the box centre by `angleDeg` and fit the margin-padded box to the crop. */
export function boxTransform(box: Box, angleDeg: number, margin: number, size = FACE_SIZE): Affine {
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const side = Math.max(box.width, box.height) * (1 + 2 * margin);
  const m = rotation(cx, cy, angleDeg, size / side);
  // Move the face centre to the centre of the output.
  m[2] += size / 2 - cx;
  m[5] += size / 2 - cy;
  return m;
}

/**
 * Warps the photo through `m` (photo -> output pixels) into a `size` square, in one warpAffine over the region the
 * output reaches. When the output is less than half the size of that region, the region is first shrunk with
 * INTER_AREA to ~2x the output so the warp's bilinear sampling does not alias.
 */
export function cropWarp(gray: CvMat, m: Affine, track: Track, size = FACE_SIZE): Uint8Array {
  const c = cv();
  const back = invert(m);
  const corners = [apply(back, 0, 0), apply(back, size, 0), apply(back, 0, size), apply(back, size, size)];
  const x0 = clamp(Math.floor(Math.min(...corners.map((p) => p[0]))) - 1, 0, gray.cols - 1);
  const y0 = clamp(Math.floor(Math.min(...corners.map((p) => p[1]))) - 1, 0, gray.rows - 1);
  const x1 = clamp(Math.ceil(Math.max(...corners.map((p) => p[0]))) + 1, x0 + 1, gray.cols);
  const y1 = clamp(Math.ceil(Math.max(...corners.map((p) => p[1]))) + 1, y0 + 1, gray.rows);
  const roi: CvMat = track(gray.roi(new c.Rect(x0, y0, x1 - x0, y1 - y0)));
  const scale = Math.hypot(m[0], m[3]); // output px per photo px
  const k = Math.min(1, 2 * scale);
  let src = roi;
  if (k < 1) {
    src = track(new c.Mat());
    c.resize(roi, src, new c.Size(Math.max(1, Math.round(roi.cols * k)), Math.max(1, Math.round(roi.rows * k))), 0, 0, c.INTER_AREA);
  }
  // Source pixel (u, v) of src is photo pixel (x0 + u / kx, y0 + v / ky).
  const kx = src.cols / roi.cols;
  const ky = src.rows / roi.rows;
  const local: Affine = [m[0] / kx, m[1] / ky, m[0] * x0 + m[1] * y0 + m[2], m[3] / kx, m[4] / ky, m[3] * x0 + m[4] * y0 + m[5]];
  return Uint8Array.from(warp(src, local, size, size, track).data);
}

/** `cropWarp` through each transform, back to back: one batch of `size` square crops for a net. */
export function cropBatch(gray: CvMat, transforms: Affine[], track: Track, size: number): Float32Array {
  const plane = size * size;
  const batch = new Float32Array(transforms.length * plane);
  transforms.forEach((m, i) => batch.set(cropWarp(gray, m, track, size), i * plane));
  return batch;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
