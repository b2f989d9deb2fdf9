import { crc32, inflateSync } from 'node:zlib';
import { AppError } from '../errors';

/**
 * A decoder for the one input a crop request usually is: a small, plain, 8-bit grayscale PNG (or an RGB PNG whose
 * three channels are equal, which is how many tools save gray). For a 48x48 crop, sharp's pipeline takes more wall
 * time than the demo model's inference (libvips builds and tears down a whole pipeline) where this takes a small
 * fraction of it: sharp was the biggest item in the service's profile
 * (docs/inference.md#design-measurements-moved-from-code-comments).
 *
 * The output must equal sharp's, bit for bit, so anything that could make libvips do more than copy samples
 * returns undefined and the caller uses sharp: other colour types or bit depths, interlacing, palettes,
 * transparency, colour management or orientation chunks (gAMA, iCCP, sRGB, cHRM, eXIf, ...), APNG, a bad CRC,
 * a bad zlib stream, data too short, bytes after IEND, or an RGB pixel that is not gray.
 *
 * The one refusal made here: image data that inflates past what the header declares is a 400. The inflate stops
 * at that size, because a few hundred KB of IDAT can inflate to gigabytes; libvips would ignore the excess, but
 * only a crafted file has any.
 */
export interface PlainGray {
  data: Buffer;
  width: number;
  height: number;
}

/** Larger images are photos: libvips' setup cost is small beside their decode, and they rarely qualify. */
export const PNG_FAST_MAX_PIXELS = 256 * 256;

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Chunks that carry no pixel meaning for libvips' grayscale output (text, timestamps, physical size). */
const IGNORED = new Set(['tEXt', 'zTXt', 'iTXt', 'tIME', 'pHYs']);
const GRAY = 0;
const RGB = 2;

export function decodePlainGrayPng(buf: Buffer): PlainGray | undefined {
  if (buf.length < 8 + 25 + 12 || !buf.subarray(0, 8).equals(SIGNATURE)) return undefined;
  let at = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  let ended = false;
  let previous = '';
  while (at + 12 <= buf.length && !ended) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    const end = at + 12 + length;
    if (end > buf.length) return undefined;
    if (crc32(buf.subarray(at + 4, at + 8 + length)) !== buf.readUInt32BE(at + 8 + length)) return undefined;
    const data = buf.subarray(at + 8, at + 8 + length);
    if (at === 8) {
      if (type !== 'IHDR' || length !== 13) return undefined;
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, compression, filter, interlace] = data.subarray(8, 13);
      if (depth !== 8 || (colour !== GRAY && colour !== RGB) || compression !== 0 || filter !== 0 || interlace !== 0) return undefined;
      if (width === 0 || height === 0 || width * height > PNG_FAST_MAX_PIXELS) return undefined;
      channels = colour === GRAY ? 1 : 3;
    } else if (type === 'IDAT') {
      // IDAT chunks must be consecutive; a file that splits them is left to libpng to judge.
      if (idat.length > 0 && previous !== 'IDAT') return undefined;
      idat.push(data);
    } else if (type === 'IEND') {
      ended = true;
    } else if (!IGNORED.has(type)) {
      return undefined;
    }
    previous = type;
    at = end;
  }
  if (!ended || at !== buf.length || idat.length === 0) return undefined;
  const stride = width * channels;
  const declared = height * (stride + 1); // each row: a filter byte, then the samples
  let raw: Buffer;
  try {
    raw = inflateSync(idat.length === 1 ? idat[0] : Buffer.concat(idat), { maxOutputLength: declared });
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_BUFFER_TOO_LARGE') return undefined;
    throw new AppError(400, 'invalid_image', `the PNG's image data inflates past the ${width}x${height} pixels its header declares`);
  }
  if (raw.length !== declared) return undefined;
  const rows = unfilter(raw, height, stride, channels);
  if (!rows) return undefined;
  if (channels === 1) return { data: rows, width, height };
  const gray = Buffer.allocUnsafe(width * height);
  for (let i = 0, j = 0; i < gray.length; i++, j += 3) {
    const v = rows[j];
    if (rows[j + 1] !== v || rows[j + 2] !== v) return undefined; // colour: libvips' luminance formula decides
    gray[i] = v;
  }
  return { data: gray, width, height };
}

/**
 * Reverses the per-row PNG filters (None, Sub, Up, Average, Paeth); `bpp` is bytes per pixel. One loop per filter
 * type: a switch per byte made this the largest item of the fast path in the profile.
 */
function unfilter(raw: Buffer, height: number, stride: number, bpp: number): Buffer | undefined {
  const out = Buffer.allocUnsafe(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride; // the row above; read only when y > 0
    if (filter === 0 || (filter === 2 && y === 0)) {
      raw.copy(out, row, src, src + stride);
    } else if (filter === 1) {
      for (let x = 0; x < stride; x++) out[row + x] = (raw[src + x] + (x >= bpp ? out[row + x - bpp] : 0)) & 0xff;
    } else if (filter === 2) {
      for (let x = 0; x < stride; x++) out[row + x] = (raw[src + x] + out[prev + x]) & 0xff;
    } else if (filter === 3) {
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? out[row + x - bpp] : 0;
        const b = y > 0 ? out[prev + x] : 0;
        out[row + x] = (raw[src + x] + ((a + b) >>> 1)) & 0xff;
      }
    } else if (filter === 4) {
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? out[row + x - bpp] : 0;
        const b = y > 0 ? out[prev + x] : 0;
        const c = x >= bpp && y > 0 ? out[prev + x - bpp] : 0;
        const pa = Math.abs(b - c); // |p - a| with p = a + b - c
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        out[row + x] = (raw[src + x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
      }
    } else {
      return undefined;
    }
  }
  return out;
}
