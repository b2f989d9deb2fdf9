import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LABELS, NUM_CLASSES } from '../../lib/labels';
import { DatasetManifest, MANIFEST_FILE, SAMPLES_FILE, SPLITS, imagesFile, labelsFile } from '../../lib/dataset/manifest';
import { readManifest } from '../../lib/dataset';
import { writeNpyUint8 } from '../../lib/dataset/npy';
import { FACE_SIZE } from '../../lib/labels';
import { Collected } from './collector';
import { renderSamplesPng } from './samples-png';
import type { RecordedSource } from './sources';

export const datasetsDir = (dataRoot: string): string => join(dataRoot, 'datasets');

/** Content id: sha256 over every split's images then labels, in train/val/test order. */
export function contentId(data: Collected): string {
  const h = createHash('sha256');
  for (const s of SPLITS) {
    h.update(data.splits[s].images);
    h.update(data.splits[s].labels);
  }
  return h.digest('hex').slice(0, 16);
}

function pixelStats(images: Uint8Array): { mean: number; std: number } {
  if (images.length === 0) return { mean: 0, std: 0 };
  const hist = new Float64Array(256);
  for (let i = 0; i < images.length; i++) hist[images[i]]++;
  let sum = 0;
  let sq = 0;
  for (let v = 0; v < 256; v++) {
    sum += v * hist[v];
    sq += v * v * hist[v];
  }
  const mean = sum / images.length;
  const round = (x: number): number => Math.round(x * 1e4) / 1e4;
  return { mean: round(mean), std: round(Math.sqrt(Math.max(0, sq / images.length - mean * mean))) };
}

function classCounts(labels: Uint8Array): number[] {
  const counts = new Array<number>(NUM_CLASSES).fill(0);
  for (const l of labels) counts[l]++;
  return counts;
}

/** A temp dir this old belongs to a writer that crashed (a live one finishes in seconds to minutes). */
const STALE_TEMP_MS = 6 * 3600_000;

/** Removes temp dirs left by writers killed mid-write, so they do not pile up beside the versions. */
function sweepStaleTemps(root: string): void {
  for (const name of readdirSync(root)) {
    if (!name.startsWith('.tmp-')) continue;
    const path = join(root, name);
    try {
      if (Date.now() - statSync(path).mtimeMs > STALE_TEMP_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // another ingest removed or renamed it first
    }
  }
}

export interface WriteOutcome {
  datasetId: string;
  uri: string;
  manifest: DatasetManifest;
  reused: boolean;
}

/**
 * Writes a dataset version into a temp dir beside its final place and renames it there, so a crash never
 * leaves a half-written version and two concurrent ingests of the same data both end with one good copy.
 */
export async function writeDataset(dataRoot: string, data: Collected, source: RecordedSource): Promise<WriteOutcome> {
  const datasetId = contentId(data);
  const root = datasetsDir(dataRoot);
  const uri = join(root, datasetId);
  if (existsSync(join(uri, MANIFEST_FILE))) return { datasetId, uri, manifest: readManifest(uri), reused: true };

  mkdirSync(root, { recursive: true });
  sweepStaleTemps(root);
  const tmp = join(root, `.tmp-${datasetId}-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp);
  try {
    for (const s of SPLITS) {
      const { images, labels, count } = data.splits[s];
      writeNpyUint8(join(tmp, imagesFile(s)), images, [count, FACE_SIZE, FACE_SIZE]);
      writeNpyUint8(join(tmp, labelsFile(s)), labels, [count]);
    }
    const manifest: DatasetManifest = {
      datasetId,
      source,
      createdAt: new Date().toISOString(),
      formatVersion: 1,
      splits: { train: data.splits.train.count, val: data.splits.val.count, test: data.splits.test.count },
      classCounts: {
        train: classCounts(data.splits.train.labels),
        val: classCounts(data.splits.val.labels),
        test: classCounts(data.splits.test.labels),
      },
      pixelStats: pixelStats(data.splits.train.images),
      rejected: data.rejected,
      labels: [...LABELS],
    };
    await renderSamplesPng(data.splits.train, join(tmp, SAMPLES_FILE));
    // The manifest goes last: a directory with a manifest is a complete one.
    writeFileSync(join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
    try {
      renameSync(tmp, uri);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Another ingest of the same content won the race: its copy is identical, keep it.
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(join(uri, MANIFEST_FILE))) {
        return { datasetId, uri, manifest: readManifest(uri), reused: true };
      }
      throw err;
    }
    return { datasetId, uri, manifest, reused: false };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
