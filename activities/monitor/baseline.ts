import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { featuresOfImages, type DriftFeatures } from '../../lib/drift';
import { readManifest, readSplit } from '../../lib/dataset';

export interface Baseline {
  datasetId: string;
  samples: number;
  features: DriftFeatures;
}

/**
 * The champion's baseline: histograms of the train split it was trained on. Binning a split reads every image,
 * so the result is cached per dataset id (datasets are immutable: the id is their content hash).
 */
export function loadBaseline(datasetUri: string, cacheDir: string): Baseline {
  const { datasetId } = readManifest(datasetUri);
  const cached = join(cacheDir, `${datasetId}.json`);
  if (existsSync(cached)) {
    try {
      const b = JSON.parse(readFileSync(cached, 'utf8')) as Baseline;
      if (b.datasetId === datasetId && b.features?.classes?.length) return b;
    } catch {
      // A damaged cache file is recomputed below, never trusted.
    }
  }
  const train = readSplit(datasetUri, 'train');
  const baseline: Baseline = { datasetId, samples: train.count, features: featuresOfImages(train.images, train.labels, train.count) };
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(`${cached}.tmp`, JSON.stringify(baseline));
  renameSync(`${cached}.tmp`, cached);
  return baseline;
}
