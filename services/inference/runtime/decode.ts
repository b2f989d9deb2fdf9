import sharp, { type Metadata } from 'sharp';
import { AppError } from '../errors';

/** A decoded image: 8-bit grayscale, row-major, EXIF orientation already applied. */
export interface GrayImage {
  data: Buffer;
  width: number;
  height: number;
  format: string;
}

const ACCEPTED = new Set(['jpeg', 'png', 'webp', 'gif']);
/** Below this a "face" has too few pixels to mean anything; refusing is clearer than an upscaled blur. */
export const MIN_IMAGE_SIDE = 8;

// Decoding is CPU work on libvips' own threads; keep the cache off so memory does not grow with traffic.
sharp.cache(false);

/**
 * Decodes JPEG/PNG/WebP/GIF (first frame) to grayscale. The header is read first so that a decompression bomb
 * is refused before any pixel is decoded; `limitInputPixels` is the second guard inside libvips.
 */
export async function decodeGray(input: Buffer, maxPixels: number): Promise<GrayImage> {
  if (input.length === 0) throw new AppError(400, 'empty_body', 'the image is empty');
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw classify(err);
  }
  if (!meta.format || !ACCEPTED.has(meta.format)) {
    throw new AppError(415, 'unsupported_media_type', `image format ${meta.format ?? 'unknown'} is not accepted; send JPEG, PNG, WebP or GIF`);
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  // For animated images, sharp reports the height of one frame when pages=1 (the default), so this is per frame.
  if (width * height > maxPixels) {
    throw new AppError(413, 'too_many_pixels', `image is ${width}x${height}; at most ${maxPixels} pixels are accepted`);
  }
  if (Math.min(width, height) < MIN_IMAGE_SIDE) {
    throw new AppError(422, 'image_too_small', `image is ${width}x${height}; each side must be at least ${MIN_IMAGE_SIDE} pixels`);
  }
  try {
    const { data, info } = await sharp(input, { limitInputPixels: maxPixels, failOn: 'truncated', pages: 1 })
      .rotate() // honour EXIF orientation
      .flatten({ background: '#ffffff' }) // alpha -> composited on white, as a viewer would show it
      .toColourspace('b-w') // CMYK, palette and RGB all end as one 8-bit luminance channel
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 1) throw new Error(`expected 1 channel after grayscale, got ${info.channels}`);
    return { data, width: info.width, height: info.height, format: meta.format };
  } catch (err) {
    throw classify(err);
  }
}

function classify(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(msg)) return new AppError(413, 'too_many_pixels', 'image exceeds the pixel limit');
  if (/unsupported image format/i.test(msg)) {
    return new AppError(415, 'unsupported_media_type', 'not a recognised image; send JPEG, PNG, WebP or GIF');
  }
  // libvips messages name internal buffers; keep the first line, which says what is wrong with the file.
  return new AppError(400, 'invalid_image', `the image could not be decoded: ${msg.split('\n')[0]}`);
}
