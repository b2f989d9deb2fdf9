import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { CONFIG_KEYS } from '../../../lib/config';
import { SampleCollector } from '../collector';
import { IngestContext, checkAborted } from '../context';
import { IngestError, badSource } from '../errors';
import { listFiles } from '../file-hash';
import { ZipEntry, extractEntry, isSafeEntryName, readZipEntries } from '../zip';
import { collectFer2013Csv } from './fer2013-csv';
import { collectImageFolder } from './image-folder';
import { INGEST_RULES_VERSION, defineSource } from './source';

/** The real Kaggle API; the worker's FEROPS_KAGGLE_API_BASE replaces it. */
export const KAGGLE_API_BASE = CONFIG_KEYS.FEROPS_KAGGLE_API_BASE.default;
const DOWNLOAD_TIMEOUT_MS = 30 * 60_000;

const kaggleInput = z.object({ kind: z.literal('kaggle'), slug: z.string(), file: z.string().min(1).optional() }).strict();
export type KaggleSource = Omit<z.infer<typeof kaggleInput>, 'kind'>;

/**
 * A Kaggle dataset by slug, keyed by the sha256 of what was downloaded. The endpoint is not part of the input:
 * the worker sends its credentials there, so it comes from the worker's configuration, never from whoever
 * starts a workflow.
 */
export const kaggle = defineSource({
  kind: 'kaggle',
  input: kaggleInput,
  async open(input, env) {
    const download = await openKaggleDownload(input, env.kaggleApiBase, env.dataRoot, env.ctx);
    return {
      key: `kaggle-r${INGEST_RULES_VERSION}-${download.sha256}`,
      collect: async (collector) => {
        await download.collect(collector);
        return { kind: 'kaggle' as const, slug: input.slug, ...(input.file ? { file: input.file } : {}), sha256: download.sha256, inner: download.inner };
      },
      close: download.close,
    };
  },
});

interface KaggleDownload {
  sha256: string;
  inner: 'fer2013-csv' | 'image-folder';
  collect: (collector: SampleCollector) => Promise<void>;
  close: () => Promise<void>;
}

/**
 * Credentials as the official client finds them: KAGGLE_USERNAME + KAGGLE_KEY, else kaggle.json in
 * $KAGGLE_CONFIG_DIR or ~/.kaggle. Missing ones fail before any network call.
 */
export function kaggleCredentials(env: NodeJS.ProcessEnv = process.env): { username: string; key: string } {
  if (env.KAGGLE_USERNAME && env.KAGGLE_KEY) return { username: env.KAGGLE_USERNAME, key: env.KAGGLE_KEY };
  const file = join(env.KAGGLE_CONFIG_DIR ?? join(homedir(), '.kaggle'), 'kaggle.json');
  if (!env.KAGGLE_USERNAME && !env.KAGGLE_KEY && existsSync(file)) {
    try {
      const { username, key } = JSON.parse(readFileSync(file, 'utf8')) as { username?: string; key?: string };
      if (username && key) return { username, key };
    } catch {
      // fall through to the message below
    }
  }
  const missing = ['KAGGLE_USERNAME', 'KAGGLE_KEY'].filter((k) => !env[k]);
  throw new IngestError(
    'missing_credentials',
    `Kaggle download needs credentials: set ${missing.join(' and ')} (from kaggle.com > Settings > API > Create New Token), ` +
      `or put kaggle.json in ${dirname(file)}`,
    true,
  );
}

export function kaggleDownloadUrl(source: KaggleSource, apiBase: string = KAGGLE_API_BASE): string {
  if (typeof source.slug !== 'string' || !/^[\w.-]+\/[\w.-]+$/.test(source.slug)) {
    throw badSource(`Kaggle slug must look like "owner/dataset", got ${JSON.stringify(source.slug)}`);
  }
  const base = apiBase.replace(/\/+$/, '');
  const file = source.file ? `/${encodeURIComponent(source.file)}` : '';
  return `${base}/datasets/download/${source.slug}${file}`;
}

/** GET the dataset (a zip, or the raw file when one file was asked for) into `dest`, hashing as it streams. */
async function download(url: string, auth: { username: string; key: string }, dest: string, ctx: IngestContext): Promise<string> {
  const timeout = AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS);
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.key}`).toString('base64')}`, 'user-agent': 'ferops-ingest' },
      redirect: 'follow', // Kaggle answers with a redirect to signed storage
      signal,
    });
  } catch (err) {
    checkAborted(ctx);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new IngestError('download_failed',
      `cannot reach ${new URL(url).host} (${cause?.code ?? cause?.message ?? (err as Error).message}): offline or blocked?`, false);
  }
  if (res.status === 401 || res.status === 403) {
    throw new IngestError('missing_credentials', `Kaggle refused the credentials of user "${auth.username}" (HTTP ${res.status}) for ${url}`, true);
  }
  if (res.status === 404) throw badSource(`Kaggle has no dataset or file at ${url} (HTTP 404)`);
  if (!res.ok || !res.body) {
    // 429 and 5xx are worth a retry; other codes will not get better
    const retry = res.status === 429 || res.status >= 500;
    throw new IngestError('download_failed', `Kaggle download ${url} failed: HTTP ${res.status} ${res.statusText}`, !retry);
  }
  const total = Number(res.headers.get('content-length')) || undefined;
  const hash = createHash('sha256');
  let done = 0;
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
  body.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    done += chunk.length;
    ctx.onProgress({ phase: 'download', done, total });
  });
  try {
    await pipeline(body, createWriteStream(dest), { signal });
  } catch (err) {
    checkAborted(ctx);
    throw new IngestError('download_failed', `Kaggle download ${url} broke off after ${done} bytes: ${(err as Error).message}`, false);
  }
  return hash.digest('hex');
}

async function isZip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    return head.readUInt32LE(0) === 0x04034b50;
  } finally {
    await fh.close();
  }
}

/** What the archive holds: the FER2013 CSV, or train/ and test/ image folders (possibly under a top folder). */
function planArchive(entries: ZipEntry[]): { inner: 'fer2013-csv'; csv: ZipEntry } | { inner: 'image-folder'; prefix: string } {
  const files = entries.filter((e) => !e.name.endsWith('/') && isSafeEntryName(e.name));
  const csvs = files.filter((e) => /\.csv$/i.test(e.name));
  const fer = csvs.find((e) => /fer2013\.csv$/i.test(e.name)) ?? csvs.sort((a, b) => b.size - a.size)[0];
  if (fer) return { inner: 'fer2013-csv', csv: fer };
  for (const e of files) {
    const m = /^(.*?)(?:^|\/)(train|training)\/[^/]+\/[^/]+$/i.exec(e.name);
    if (m) return { inner: 'image-folder', prefix: m[1] ? `${m[1]}/` : '' };
  }
  throw badSource(`the Kaggle archive holds neither a FER2013 CSV nor train/<class>/ images; first entries: ${files.slice(0, 5).map((e) => e.name).join(', ')}`);
}

/**
 * Downloads a Kaggle dataset from `apiBase` (the worker's configuration) into a private temp folder under
 * `<dataRoot>/downloads`; its `collect` extracts the contents (only asked for when the content is new) and
 * `close` removes the folder. A failure while opening removes it at once.
 */
async function openKaggleDownload(source: KaggleSource, apiBase: string, dataRoot: string, ctx: IngestContext): Promise<KaggleDownload> {
  const url = kaggleDownloadUrl(source, apiBase);
  const auth = kaggleCredentials();
  const work = join(dataRoot, 'downloads', `kaggle-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(work, { recursive: true });
  const close = (): Promise<void> => rm(work, { recursive: true, force: true });
  try {
    return { ...(await readDownload(source, url, auth, work, ctx)), close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function readDownload(
  source: KaggleSource,
  url: string,
  auth: { username: string; key: string },
  work: string,
  ctx: IngestContext,
): Promise<Omit<KaggleDownload, 'close'>> {
  const payload = join(work, 'download');
  const sha256 = await download(url, auth, payload, ctx);
  if (!(await isZip(payload))) {
    // Asking for one file can return the file itself.
    return {
      sha256,
      inner: 'fer2013-csv',
      collect: async (c) => {
        await collectFer2013Csv(payload, c, ctx);
      },
    };
  }
  let entries: ZipEntry[];
  try {
    entries = await readZipEntries(payload);
  } catch (err) {
    throw badSource(`Kaggle sent a broken zip for ${source.slug}: ${(err as Error).message}`);
  }
  const plan = planArchive(entries);
  if (plan.inner === 'fer2013-csv') {
    return {
      sha256,
      inner: plan.inner,
      collect: async (c) => {
        const csv = join(work, 'data.csv');
        await extractEntry(payload, plan.csv, csv);
        await collectFer2013Csv(csv, c, ctx);
      },
    };
  }
  return {
    sha256,
    inner: plan.inner,
    collect: async (c) => {
      const root = join(work, 'tree');
      for (const e of entries) {
        if (e.name.endsWith('/') || !e.name.startsWith(plan.prefix)) continue;
        if (!isSafeEntryName(e.name)) continue; // never written outside `root`; the folder reader would not see it anyway
        checkAborted(ctx);
        const dest = join(root, e.name.slice(plan.prefix.length));
        await mkdir(dirname(dest), { recursive: true });
        await extractEntry(payload, e, dest);
      }
      await collectImageFolder(root, await listFiles(root), c, ctx);
    },
  };
}
