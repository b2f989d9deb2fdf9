import sharp from 'sharp';
import { FACE_SIZE, NUM_CLASSES } from '../../lib/labels';
import { CollectedSplit, FACE_BYTES } from './collector';

const PER_CLASS = 10;
const UPSCALE = 2;

/**
 * A contact sheet for people: one row per class (LABELS order), the first 10 faces of that class, upscaled 2x
 * with nearest-neighbour so pixels stay honest. Missing faces (a rare class) stay black.
 */
export async function renderSamplesPng(split: CollectedSplit, path: string): Promise<void> {
  const width = PER_CLASS * FACE_SIZE;
  const height = NUM_CLASSES * FACE_SIZE;
  const sheet = new Uint8Array(width * height);
  const filled = new Array<number>(NUM_CLASSES).fill(0);
  for (let i = 0; i < split.count; i++) {
    const c = split.labels[i];
    if (filled[c] >= PER_CLASS) continue;
    const col = filled[c]++;
    for (let y = 0; y < FACE_SIZE; y++) {
      const src = i * FACE_BYTES + y * FACE_SIZE;
      sheet.set(split.images.subarray(src, src + FACE_SIZE), (c * FACE_SIZE + y) * width + col * FACE_SIZE);
    }
  }
  await sharp(sheet, { raw: { width, height, channels: 1 } })
    .resize(width * UPSCALE, height * UPSCALE, { kernel: 'nearest' })
    .png()
    .toFile(path);
}
