import type { RecordedSource } from '../../activities/ingest/sources';

/** Types and names of the dataset directory format (see DESIGN.md, "Dataset on disk"). */
export const SPLITS = ['train', 'val', 'test'] as const;
export type Split = (typeof SPLITS)[number];

export const MANIFEST_FILE = 'manifest.json';
export const SAMPLES_FILE = 'samples.png';
export const imagesFile = (split: Split): string => `${split}_images.npy`;
export const labelsFile = (split: Split): string => `${split}_labels.npy`;

export interface RejectedRow {
  /** e.g. "line 17" or "train/happy/x.png" */
  where: string;
  reason: string;
}

export interface DatasetManifest {
  /** sha256 (hex, first 16 chars) of the split arrays; also the directory name. */
  datasetId: string;
  /** Where the data came from, as its source module records it (activities/ingest/sources; no credentials, ever). */
  source: RecordedSource;
  createdAt: string;
  formatVersion: 1;
  splits: { train: number; val: number; test: number };
  /** Per split, count per class in LABELS order. */
  classCounts: { train: number[]; val: number[]; test: number[] };
  /** Mean and standard deviation of the train images, in pixel units (0..255). */
  pixelStats: { mean: number; std: number };
  rejected: { total: number; byReason: Record<string, number>; rows: RejectedRow[] /* first 200 */ };
  labels: string[];
}

/** How many rejected rows a manifest lists by name; the counts cover all of them. */
export const MAX_LISTED_REJECTS = 200;
