/**
 * Format and dimensions from the first bytes of a JPEG, PNG, WebP or GIF, without decoding anything.
 *
 * Why: the decoder used to ask sharp for the metadata first (to refuse bombs before any pixel is decoded), then
 * decode: two libvips calls, together more main-thread time than the demo model's inference
 * (docs/inference.md#where-the-time-went-node---import-tsx-benchinference-profilets-concurrency-6). Reading
 * the dimensions here lets sharp run once. Anything this reader does not fully understand (another format, a
 * header cut short, a JPEG whose frame header comes after the first scan) returns undefined, and the caller asks
 * sharp as before, so every error for unusual input stays what it was.
 */
export type SniffedFormat = 'jpeg' | 'png' | 'webp' | 'gif';

export interface ImageHeader {
  format: SniffedFormat;
  width: number;
  height: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function sniffImageHeader(buf: Buffer): ImageHeader | undefined {
  const header = png(buf) ?? gif(buf) ?? webp(buf) ?? jpeg(buf);
  // A zero side is not something to judge here: sharp's own message says what is wrong with such a file.
  return header && header.width > 0 && header.height > 0 ? header : undefined;
}

/** Signature, then the IHDR chunk: length (4), "IHDR", width and height as big-endian uint32. */
function png(buf: Buffer): ImageHeader | undefined {
  if (buf.length < 24 || !buf.subarray(0, 8).equals(PNG_SIGNATURE) || buf.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { format: 'png', width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

/** "GIF87a"/"GIF89a", then the logical screen size (little-endian uint16): what libvips reports per frame. */
function gif(buf: Buffer): ImageHeader | undefined {
  if (buf.length < 10) return undefined;
  const sig = buf.toString('latin1', 0, 6);
  if (sig !== 'GIF87a' && sig !== 'GIF89a') return undefined;
  return { format: 'gif', width: buf.readUInt16LE(6), height: buf.readUInt16LE(8) };
}

/** RIFF container; the first chunk is VP8 (lossy), VP8L (lossless) or VP8X (extended: canvas size). */
function webp(buf: Buffer): ImageHeader | undefined {
  if (buf.length < 30 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WEBP') return undefined;
  const chunk = buf.toString('latin1', 12, 16);
  if (chunk === 'VP8 ') {
    // 3-byte frame tag, then the key-frame start code 9d 01 2a, then 14-bit width and height (2 scale bits above).
    if (buf[23] !== 0x9d || buf[24] !== 0x01 || buf[25] !== 0x2a) return undefined;
    return { format: 'webp', width: buf.readUInt16LE(26) & 0x3fff, height: buf.readUInt16LE(28) & 0x3fff };
  }
  if (chunk === 'VP8L') {
    // Signature byte 0x2f, then width-1 and height-1 in 14 bits each, least significant bit first.
    if (buf[20] !== 0x2f) return undefined;
    const bits = buf.readUInt32LE(21);
    return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') {
    // Flags (1) and reserved (3) bytes, then canvas width-1 and height-1 as little-endian uint24.
    return { format: 'webp', width: buf.readUIntLE(24, 3) + 1, height: buf.readUIntLE(27, 3) + 1 };
  }
  return undefined;
}

/** Start-of-frame markers carry the size: every SOFn except DHT (c4), JPG (c8) and DAC (cc). */
const isStartOfFrame = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/** Walks the marker segments up to the first start-of-frame: precision (1), height and width (big-endian uint16). */
function jpeg(buf: Buffer): ImageHeader | undefined {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8 || buf[2] !== 0xff) return undefined;
  let i = 2;
  while (i + 4 <= buf.length) {
    if (buf[i] !== 0xff) return undefined; // not at a marker: corrupt, let libvips say so
    const marker = buf[i + 1];
    if (marker === 0xff) {
      i++; // fill byte before a marker
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2; // TEM and RSTn stand alone
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // scan data or end before any frame header
    const length = buf.readUInt16BE(i + 2);
    if (length < 2) return undefined;
    if (isStartOfFrame(marker)) {
      if (i + 9 > buf.length) return undefined;
      return { format: 'jpeg', width: buf.readUInt16BE(i + 7), height: buf.readUInt16BE(i + 5) };
    }
    i += 2 + length;
  }
  return undefined;
}
