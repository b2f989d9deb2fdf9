import { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatasetManifest, DatasetSource } from '../../lib/dataset/manifest';
import { readManifest } from '../../lib/dataset';
import { SampleCollector } from './collector';
import { IngestContext, Progress, checkAborted } from './context';
import { badSource } from './errors';
import { collectFer2013Csv } from './sources/fer2013-csv';
import { collectImageFolder, imageFolderKey } from './sources/image-folder';
import { KAGGLE_API_BASE, withKaggleDownload } from './sources/kaggle';
import { collectSynthetic } from './sources/synthetic';
import { GENERATOR_VERSION, validateSyntheticParams } from './synthetic/generate';
import { checkRejectRatio, checkSplitsPresent } from './validate';
import { lookupSource, rememberSource } from './source-index';
import { type IngestSource, parseIngestSource } from './source-schema';
import { writeDataset } from './writer';

export { IngestError } from './errors';
export type { IngestErrorCode } from './errors';

export type { IngestSource } from './source-schema';

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
 * Bumped when parsing or validation changes what a given file turns into, so that the source index does not
 * hand back a version made by older rules.
 */
const INGEST_RULES_VERSION = 1;

/**
 * Turns a source into a dataset version under `<dataRoot>/datasets/<datasetId>`; idempotent by content. The source
 * comes from workflow input, so it is checked against the closed schema before anything is read or fetched.
 */
export async function ingestDataset(input: IngestSource, opts: IngestOptions): Promise<IngestResult> {
  const source = parseIngestSource(input);
  const maxRejectRatio = opts.maxRejectRatio ?? 0.05;
  if (!(maxRejectRatio >= 0 && maxRejectRatio <= 1)) throw badSource(`maxRejectRatio must be in 0..1, got ${maxRejectRatio}`);
  if (!opts.dataRoot) throw badSource('dataRoot is required');
  const dataRoot = resolve(opts.dataRoot);
  const ctx: IngestContext = { onProgress: opts.onProgress ?? (() => undefined), signal: opts.signal };
  checkAborted(ctx);

  switch (source.kind) {
    case 'synthetic': {
      let params;
      try {
        params = validateSyntheticParams(source);
      } catch (err) {
        throw badSource((err as Error).message);
      }
      const key = `synthetic-g${GENERATOR_VERSION}-n${params.size}-s${params.seed}-d${params.difficulty}-${params.balance}`;
      return ingestKeyed(dataRoot, key, maxRejectRatio, ctx, async (collector) => {
        await collectSynthetic(params, collector, ctx);
        return { kind: 'synthetic', ...params, generatorVersion: GENERATOR_VERSION };
      });
    }
    case 'fer2013-csv': {
      const path = localPath(source.path, 'fer2013-csv');
      // Keyed by file identity (device, inode, size, mtime) rather than a hash of 300 MB read before parsing;
      // a changed or copied file is parsed again and still lands on the same content id without a rewrite.
      const st = await statOrBadSource(path);
      const key = `fer2013-csv-r${INGEST_RULES_VERSION}-${st.dev}-${st.ino}-${st.size}-${Math.round(st.mtimeMs * 1000)}`;
      return ingestKeyed(dataRoot, key, maxRejectRatio, ctx, async (collector) => ({
        kind: 'fer2013-csv', path, sha256: await collectFer2013Csv(path, collector, ctx),
      }));
    }
    case 'image-folder': {
      const path = localPath(source.path, 'image-folder');
      const { sha256, files } = await imageFolderKey(path, ctx);
      return ingestKeyed(dataRoot, `image-folder-r${INGEST_RULES_VERSION}-${sha256}`, maxRejectRatio, ctx, async (collector) => {
        await collectImageFolder(path, files, collector, ctx);
        return { kind: 'image-folder', path, sha256 };
      });
    }
    case 'kaggle':
      return withKaggleDownload(source, opts.kaggleApiBase ?? KAGGLE_API_BASE, dataRoot, ctx, async (download) =>
        ingestKeyed(dataRoot, `kaggle-r${INGEST_RULES_VERSION}-${download.sha256}`, maxRejectRatio, ctx, async (collector) => {
          await download.collect(collector);
          return { kind: 'kaggle', slug: source.slug, ...(source.file ? { file: source.file } : {}), sha256: download.sha256, inner: download.inner };
        }));
  }
}

/** The common path: find by key, else collect, validate, write and remember. */
async function ingestKeyed(
  dataRoot: string,
  key: string,
  maxRejectRatio: number,
  ctx: IngestContext,
  collect: (collector: SampleCollector) => Promise<DatasetSource>,
): Promise<IngestResult> {
  const known = lookupSource(dataRoot, key);
  if (known) {
    const manifest = readManifest(known.uri);
    // The version was accepted under its own ratio; a stricter caller must still be refused.
    checkRejectRatio(manifest.rejected, manifest.splits.train + manifest.splits.val + manifest.splits.test, maxRejectRatio);
    return { ...known, manifest, reused: true };
  }
  const collector = new SampleCollector();
  const source = await collect(collector);
  checkAborted(ctx);
  const data = collector.finish();
  checkRejectRatio(data.rejected, data.accepted, maxRejectRatio);
  checkSplitsPresent(data);
  ctx.onProgress({ phase: 'write', done: 0, total: 1 });
  const written = await writeDataset(dataRoot, data, source);
  rememberSource(dataRoot, key, written.datasetId);
  ctx.onProgress({ phase: 'write', done: 1, total: 1 });
  return written;
}

function localPath(pathOrUri: string, kind: string): string {
  if (typeof pathOrUri !== 'string' || pathOrUri.length === 0) throw badSource(`${kind} source needs a path`);
  if (pathOrUri.startsWith('file://')) return fileURLToPath(pathOrUri);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pathOrUri)) {
    throw badSource(`${kind} source ${pathOrUri}: only local paths and file:// URIs are supported`);
  }
  return resolve(pathOrUri);
}

async function statOrBadSource(path: string): Promise<Stats> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (err) {
    throw badSource(`cannot read ${path}: ${(err as Error).message}`);
  }
  if (!st.isFile()) throw badSource(`${path} is not a file`);
  return st;
}
