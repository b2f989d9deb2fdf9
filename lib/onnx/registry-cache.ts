import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MODEL_FILES } from './model-dir';
import { ModelArtifactError, invalidModel } from './model-error';

/** The slice of the MLflow client a download needs; tests pass a fake. */
export interface VersionDownloader {
  downloadModelVersion(name: string, version: string, destDir: string): Promise<void>;
}

export interface RegistryVersion {
  name: string;
  version: string;
  tags?: { key: string; value: string }[];
}

/** The tag under which the register activity records model.onnx's sha256. */
export const MODEL_SHA256_TAG = 'ferops.model_sha256';
/** Tag names read as that checksum: ours, and the plainer ones a hand-registered version may carry. */
const CHECKSUM_TAGS = [MODEL_SHA256_TAG, 'model_sha256', 'sha256'];
const CHECKSUM_FILE = '.ferops-sha256';
/** Both become cache path components: only what MLflow issues (a registered name, a positive integer) is taken. */
const NAME = /^[A-Za-z0-9][\w.-]*$/;
const VERSION = /^\d+$/;

/**
 * A registry version's files in `<cacheDir>/<name>/<version>`, for the service and the evaluate activity alike:
 * downloaded once, model.onnx checked against the sha256 the registry recorded, renamed into place whole (a
 * half-finished download is never taken for a cached one), and reused only while model.onnx still hashes to what was
 * recorded. A bad download is an invalid_model or checksum_mismatch ModelArtifactError; the client's own errors
 * (not found, unreachable) pass through unchanged.
 */
export async function cachedRegistryVersion(client: VersionDownloader, cacheDir: string, mv: RegistryVersion): Promise<string> {
  if (!NAME.test(mv.name)) throw invalidModel(`registered model name "${mv.name}" cannot name a cache directory`);
  if (!VERSION.test(mv.version)) throw invalidModel(`registry returned version "${mv.version}"`);
  const expected = mv.tags?.find((t) => CHECKSUM_TAGS.includes(t.key))?.value?.toLowerCase();
  const dir = join(cacheDir, mv.name, mv.version);
  if (await cachedAndIntact(dir, expected)) {
    // Marked used (its modification time), so that a pruning with `unusedForMs` by another process keeps it.
    const now = new Date();
    await utimes(dir, now, now);
    return dir;
  }
  const tmp = `${dir}.download-${process.pid}-${Date.now()}`;
  try {
    await client.downloadModelVersion(mv.name, mv.version, tmp);
    const actual = await sha256File(join(tmp, MODEL_FILES.fp32)).catch(() => undefined);
    if (!actual) throw invalidModel(`the downloaded artifacts hold no ${MODEL_FILES.fp32}`);
    if (expected && actual !== expected) {
      throw new ModelArtifactError('checksum_mismatch', `${MODEL_FILES.fp32} sha256 ${actual} does not match the registry's ${expected}`);
    }
    await writeFile(join(tmp, CHECKSUM_FILE), actual);
    await rm(dir, { recursive: true, force: true });
    await mkdir(join(dir, '..'), { recursive: true });
    await rename(tmp, dir);
    return dir;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A download dir this old was left by a process that died mid-download; a live one renames it within minutes. */
const ABANDONED_DOWNLOAD_MS = 60 * 60 * 1000;

/**
 * Removes every cached version but those in `keep` (the dirs the caller serves), and downloads abandoned by a
 * process that died. Without it the cache gains a version per rollout: a Kubernetes pod's bounded cache volume
 * is then full after a few rollouts of a large model, and the kubelet evicts the pod. Only for a cache dir one
 * process owns, unless `unusedForMs` is set: then only versions that no `cachedRegistryVersion` returned for that long
 * go, which is safe for a cache several processes share without a lock, since each is marked before it is read.
 * Returns what it removed as `<name>/<version>`.
 */
export async function pruneRegistryCache(cacheDir: string, keep: string[], o: { nowMs?: number; unusedForMs?: number } = {}): Promise<string[]> {
  const { nowMs = Date.now(), unusedForMs = 0 } = o;
  const kept = new Set(keep.map((d) => resolve(d)));
  const removed: string[] = [];
  const age = async (path: string) => nowMs - (await stat(path).then((s) => s.mtimeMs, () => nowMs));
  for (const name of await readdir(cacheDir).catch(() => [])) {
    if (!NAME.test(name)) continue;
    for (const entry of await readdir(join(cacheDir, name)).catch(() => [])) {
      const path = join(cacheDir, name, entry);
      const abandoned = /\.download-\d+-\d+$/.test(entry) && (await age(path)) > ABANDONED_DOWNLOAD_MS;
      const unused = VERSION.test(entry) && !kept.has(resolve(path)) && (unusedForMs === 0 || (await age(path)) > unusedForMs);
      if (unused || abandoned) {
        await rm(path, { recursive: true, force: true });
        removed.push(`${name}/${entry}`);
      }
    }
  }
  return removed;
}

async function cachedAndIntact(dir: string, expected: string | undefined): Promise<boolean> {
  if (!existsSync(join(dir, CHECKSUM_FILE))) return false;
  const recorded = (await readFile(join(dir, CHECKSUM_FILE), 'utf8')).trim();
  const actual = await sha256File(join(dir, MODEL_FILES.fp32)).catch(() => undefined);
  return actual === recorded && (!expected || actual === expected);
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}
