import sharp from 'sharp';
import { FACE_SIZE } from './labels';

/** One 48x48 grayscale face (as stored in a dataset) encoded as PNG, ready to POST to /v1/predict. */
export function encodePng48(pixels: Uint8Array): Promise<Buffer> {
  return sharp(Buffer.from(pixels), { raw: { width: FACE_SIZE, height: FACE_SIZE, channels: 1 } }).png().toBuffer();
}
