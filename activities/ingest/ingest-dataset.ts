import { resolve } from 'node:path';
import type { DatasetManifest } from '../../lib/dataset/manifest';
import { readManifest } from '../../lib/dataset';
import { SampleCollector } from './collector';
import { IngestContext, Progress, checkAborted } from './context';
import { badSource } from './errors';
import { lookupSource, rememberSource } from './source-index';
import { parseDatasetSource } from './source-schema';
import { sourceModule, type DatasetSource, type RecordedSource } from './sources';
import { KAGGLE_API_BASE } from './sources/kaggle';
import type { OpenedSource } from './sources/source';
import { checkRejectRatio, checkSplitsPresent } from './validate';
import { writeDataset } from './writer';

export interface IngestOptions {
  dataRoot: string;
  /** Kaggle API endpoint, from the worker's configuration (FEROPS_KAGGLE_API_BASE). Default: the real Kaggle API. */
  kaggleApiBase?: string;
  /** Fail when more than this fraction of rows/files is rejected. Default 0.05. */
  maxRejectRatio?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

export interface IngestResult {
  datasetId: string;
  /** absolute dataset directory */
  uri: string;
  manifest: DatasetManifest;
  reused: boolean;
}

/**
 * Turns a source into a dataset version under `<dataRoot>/datasets/<datasetId>`; idempotent by content. The source
 * comes from workflow input, so it is checked against its module's closed schema before anything is read or fetched.
 */
export async function ingestDataset(input: DatasetSource, opts: IngestOptions): Promise<IngestResult> {
  const source = parseDatasetSource(input);
  const maxRejectRatio = opts.maxRejectRatio ?? 0.05;
  if (!(maxRejectRatio >= 0 && maxRejectRatio <= 1)) throw badSource(`maxRejectRatio must be in 0..1, got ${maxRejectRatio}`);
  if (!opts.dataRoot) throw badSource('dataRoot is required');
  const dataRoot = resolve(opts.dataRoot);
  const ctx: IngestContext = { onProgress: opts.onProgress ?? (() => undefined), signal: opts.signal };
  checkAborted(ctx);
  const opened = await sourceModule(source.kind)!.open(source, { dataRoot, kaggleApiBase: opts.kaggleApiBase ?? KAGGLE_API_BASE, ctx });
  try {
    return await ingestOpened(dataRoot, opened, maxRejectRatio, ctx);
  } finally {
    await opened.close?.();
  }
}

/** The common path: find by key, else collect, validate, write and remember. */
async function ingestOpened(
  dataRoot: string,
  opened: OpenedSource<RecordedSource>,
  maxRejectRatio: number,
  ctx: IngestContext,
): Promise<IngestResult> {
  const known = lookupSource(dataRoot, opened.key);
  if (known) {
    const manifest = readManifest(known.uri);
    // The version was accepted under its own ratio; a stricter caller must still be refused.
    checkRejectRatio(manifest.rejected, manifest.splits.train + manifest.splits.val + manifest.splits.test, maxRejectRatio);
    return { ...known, manifest, reused: true };
  }
  const collector = new SampleCollector();
  const source = await opened.collect(collector);
  checkAborted(ctx);
  const data = collector.finish();
  checkRejectRatio(data.rejected, data.accepted, maxRejectRatio);
  checkSplitsPresent(data);
  ctx.onProgress({ phase: 'write', done: 0, total: 1 });
  const written = await writeDataset(dataRoot, data, source);
  rememberSource(dataRoot, opened.key, written.datasetId);
  ctx.onProgress({ phase: 'write', done: 1, total: 1 });
  return written;
}
