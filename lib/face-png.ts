import sharp from 'sharp';
import { FACE_SIZE } from './labels';

/** One 48x48 grayscale face (as stored in a dataset) encoded as a one-channel PNG, ready to POST to /v1/predict. */
export function encodePng48(pixels: Uint8Array): Promise<Buffer> {
  // Without b-w, sharp writes three equal channels: a third of the bytes say nothing.
  return sharp(Buffer.from(pixels), { raw: { width: FACE_SIZE, height: FACE_SIZE, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}
