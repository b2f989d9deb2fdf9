import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FACE_SIZE } from '../labels';
import { DatasetManifest, MANIFEST_FILE, Split, SPLITS, imagesFile, labelsFile } from './manifest';
import { readNpyUint8 } from './npy';

export * from './manifest';
export { readNpyUint8, writeNpyUint8 } from './npy';

export interface SplitData {
  /** count * 48 * 48 bytes, row-major, one face after another */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/** Reads one split of a dataset directory and checks that images and labels agree. */
export function readSplit(datasetUri: string, split: Split): SplitData {
  if (!SPLITS.includes(split)) throw new Error(`unknown split "${split}", expected one of ${SPLITS.join(', ')}`);
  const images = readNpyUint8(join(datasetUri, imagesFile(split)));
  const labels = readNpyUint8(join(datasetUri, labelsFile(split)));
  const [n, h, w] = images.shape;
  if (images.shape.length !== 3 || h !== FACE_SIZE || w !== FACE_SIZE) {
    throw new Error(`${datasetUri}: ${split} images have shape [${images.shape.join(', ')}], expected [N, ${FACE_SIZE}, ${FACE_SIZE}]`);
  }
  if (labels.shape.length !== 1 || labels.shape[0] !== n) {
    throw new Error(`${datasetUri}: ${split} has ${n} images but labels of shape [${labels.shape.join(', ')}]`);
  }
  return { images: images.data, labels: labels.data, count: n };
}

export function readManifest(datasetUri: string): DatasetManifest {
  const path = join(datasetUri, MANIFEST_FILE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read dataset manifest ${path}: ${(err as Error).message}`);
  }
  const m = parsed as Partial<DatasetManifest>;
  if (m.formatVersion !== 1 || typeof m.datasetId !== 'string' || !m.splits || !m.classCounts) {
    throw new Error(`${path} is not a formatVersion 1 dataset manifest`);
  }
  return m as DatasetManifest;
}
