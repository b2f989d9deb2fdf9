import sharp, { type Metadata } from 'sharp';
import { AppError } from '../errors';
import { sniffImageHeader } from './image-header';
import { decodePlainGrayPng } from './png-gray';

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
 * Decodes JPEG/PNG/WebP/GIF (first frame) to grayscale. The size is checked from the header before any pixel is
 * decoded, so a decompression bomb is refused cheaply; `limitInputPixels` is the second guard inside libvips.
 * The header comes from a byte sniffer when it can read it (sharp then runs once per image: its calls cost
 * main-thread time that showed up in the service's profile); otherwise sharp reads it, as it always did.
 */
export async function decodeGray(input: Buffer, maxPixels: number): Promise<GrayImage> {
  if (input.length === 0) throw new AppError(400, 'empty_body', 'the image is empty');
  // The sniffer only speeds up acceptance: a refusal is always decided on sharp's reading of the header, so a
  // truncated or odd file gets exactly the answer it got before the sniffer existed.
  const sniffed = sniffImageHeader(input);
  const header = sniffed && !headerProblem(sniffed, maxPixels) ? sniffed : await sharpHeader(input);
  const problem = headerProblem(header, maxPixels);
  if (problem) throw problem;
  if (header.format === 'png') {
    const plain = decodePlainGrayPng(input); // a typical crop: no libvips pipeline needed, same pixels
    if (plain) return { ...plain, format: 'png' };
  }
  try {
    const { data, info } = await sharp(input, { limitInputPixels: maxPixels, failOn: 'truncated', pages: 1 })
      .rotate() // honour EXIF orientation
      .flatten({ background: '#ffffff' }) // alpha -> composited on white, as a viewer would show it
      .toColourspace('b-w') // CMYK, palette and RGB all end as one 8-bit luminance channel
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 1) throw new Error(`expected 1 channel after grayscale, got ${info.channels}`);
    // The decoded size is the truth; a header that claimed otherwise (sniffed or not) must not let a sliver through.
    const decodedProblem = headerProblem({ format: header.format, width: info.width, height: info.height }, maxPixels);
    if (decodedProblem) throw decodedProblem;
    return { data, width: info.width, height: info.height, format: header.format! };
  } catch (err) {
    throw classify(err, maxPixels);
  }
}

/** The slow path, for bytes the sniffer cannot read: libvips parses the header (and names other formats). */
async function sharpHeader(input: Buffer): Promise<{ format?: string; width?: number; height?: number }> {
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw classify(err);
  }
  return meta;
}

function headerProblem(header: { format?: string; width?: number; height?: number }, maxPixels: number): AppError | undefined {
  if (!header.format || !ACCEPTED.has(header.format)) {
    return new AppError(415, 'unsupported_media_type', `image format ${header.format ?? 'unknown'} is not accepted; send JPEG, PNG, WebP or GIF`);
  }
  const width = header.width ?? 0;
  const height = header.height ?? 0;
  // For animated images this is the size of one frame (sharp's pages=1 default, and the GIF/WebP canvas).
  if (width * height > maxPixels) {
    return new AppError(413, 'too_many_pixels', `image is ${width}x${height}; at most ${maxPixels} pixels are accepted`);
  }
  if (Math.min(width, height) < MIN_IMAGE_SIDE) {
    return new AppError(422, 'image_too_small', `image is ${width}x${height}; each side must be at least ${MIN_IMAGE_SIDE} pixels`);
  }
  return undefined;
}

function classify(err: unknown, maxPixels?: number): AppError {
  if (err instanceof AppError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  // limitInputPixels: libvips saw more pixels than the header said (a GIF frame larger than its logical screen).
  if (/pixel limit/i.test(msg)) return new AppError(413, 'too_many_pixels', `image exceeds the pixel limit${maxPixels ? ` of ${maxPixels}` : ''}`);
  if (/unsupported image format/i.test(msg)) {
    return new AppError(415, 'unsupported_media_type', 'not a recognised image; send JPEG, PNG, WebP or GIF');
  }
  // libvips messages name internal buffers; keep the first line, which says what is wrong with the file.
  return new AppError(400, 'invalid_image', `the image could not be decoded: ${msg.split('\n')[0]}`);
}
