import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative, isAbsolute, sep } from 'node:path';
import { MlflowClient } from '../../../lib/mlflow/client';
import { AppError } from '../errors';

/**
 * Turns an admin `source` into a local model directory:
 * - a local path, accepted only when its real path lies inside one of FEROPS_MODEL_DIRS (symlinks and `..`
 *   resolved first, so no traversal out of them);
 * - `models:/<name>/<version>` or `models:/<name>@<alias>`, downloaded from the MLflow registry into the cache
 *   dir once, verified by sha256 and reused while the checksum still matches.
 */

/** The slice of the MLflow client this file needs; tests pass a fake. */
export interface RegistryClient {
  getModelVersionByAlias(name: string, alias: string): Promise<{ version: string; tags?: { key: string; value: string }[] } | null>;
  getModelVersion(name: string, version: string): Promise<{ version: string; tags?: { key: string; value: string }[] }>;
  downloadModelVersion(name: string, version: string, destDir: string): Promise<void>;
}

export interface ResolvedSource {
  dir: string;
  /** The registry's version number for registry models, the directory name otherwise (callers may override). */
  version: string;
  source: string;
}

export interface ModelSourceOptions {
  modelDirs: string[];
  cacheDir: string;
  registry: () => RegistryClient;
}

/** Tag names under which the registering activity may record the ONNX file's sha256. */
const CHECKSUM_TAGS = ['ferops.model_sha256', 'model_sha256', 'sha256'];
const CHECKSUM_FILE = '.ferops-sha256';
const REGISTRY_URI = /^models:\/([A-Za-z0-9][\w.-]*)(?:\/(\d+)|@([A-Za-z][\w-]*))$/;

export function createModelSource(opts: ModelSourceOptions) {
  return {
    async resolve(source: string): Promise<ResolvedSource> {
      if (source.startsWith('models:/')) return fromRegistry(source, opts);
      return fromLocal(source, opts.modelDirs);
    },
  };
}

export const mlflowRegistry = (baseUrl: string): RegistryClient => new MlflowClient({ baseUrl });

async function fromLocal(source: string, roots: string[]): Promise<ResolvedSource> {
  if (!isAbsolute(source)) throw new AppError(400, 'invalid_source', 'a local model source must be an absolute path');
  let real: string;
  try {
    real = await realpath(source);
  } catch {
    throw new AppError(404, 'model_not_found', `model directory ${source} does not exist`);
  }
  const inside = await Promise.all(
    roots.map(async (root) => {
      const r = await realpath(root).catch(() => undefined);
      if (!r) return false;
      const rel = relative(r, real);
      return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
    }),
  );
  if (!inside.some(Boolean)) {
    throw new AppError(403, 'source_not_allowed', 'model directory is outside FEROPS_MODEL_DIRS');
  }
  return { dir: real, version: real.split(sep).pop()!, source };
}

async function fromRegistry(source: string, opts: ModelSourceOptions): Promise<ResolvedSource> {
  const m = REGISTRY_URI.exec(source);
  if (!m) throw new AppError(400, 'invalid_source', 'registry sources look like models:/<name>/<version> or models:/<name>@<alias>');
  const [, name, pinned, alias] = m;
  const client = opts.registry();
  let mv: { version: string; tags?: { key: string; value: string }[] } | null;
  try {
    mv = alias ? await client.getModelVersionByAlias(name, alias) : await client.getModelVersion(name, pinned);
  } catch (err) {
    throw registryError(source, err);
  }
  if (!mv) throw new AppError(404, 'model_not_found', `${source}: no such alias in the registry`);
  // The version becomes a cache path component: accept only what MLflow issues (a positive integer).
  if (!/^\d+$/.test(mv.version)) throw new AppError(502, 'registry_unavailable', `${source}: registry returned version "${mv.version}"`);
  const expected = mv.tags?.find((t) => CHECKSUM_TAGS.includes(t.key))?.value?.toLowerCase();
  const dir = join(opts.cacheDir, name, mv.version);
  if (!(await cachedAndIntact(dir, expected))) {
    const tmp = `${dir}.download-${process.pid}-${Date.now()}`;
    try {
      await client.downloadModelVersion(name, mv.version, tmp);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw registryError(source, err);
    }
    const actual = await sha256File(join(tmp, 'model.onnx')).catch(() => undefined);
    if (!actual) {
      await rm(tmp, { recursive: true, force: true });
      throw new AppError(422, 'invalid_model', `${source}: the downloaded artifacts hold no model.onnx`);
    }
    if (expected && actual !== expected) {
      await rm(tmp, { recursive: true, force: true });
      throw new AppError(422, 'checksum_mismatch', `${source}: model.onnx sha256 ${actual} does not match the registry's ${expected}`);
    }
    await writeFile(join(tmp, CHECKSUM_FILE), actual);
    await rm(dir, { recursive: true, force: true });
    await mkdir(join(dir, '..'), { recursive: true });
    await rename(tmp, dir); // atomic: a half-downloaded dir is never mistaken for a cached one
  }
  // The registry's own version number: a replica reports the same "3" whether the pipeline or FEROPS_STABLE_MODEL loaded it.
  return { dir, version: mv.version, source };
}

/** A cached dir is reused only if model.onnx still hashes to what was recorded (and to the registry's tag). */
async function cachedAndIntact(dir: string, expected: string | undefined): Promise<boolean> {
  if (!existsSync(join(dir, CHECKSUM_FILE))) return false;
  const recorded = (await readFile(join(dir, CHECKSUM_FILE), 'utf8')).trim();
  const actual = await sha256File(join(dir, 'model.onnx')).catch(() => undefined);
  return actual === recorded && (!expected || actual === expected);
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

function registryError(source: string, err: unknown): AppError {
  const status = (err as { status?: number }).status;
  if (status === 404) return new AppError(404, 'model_not_found', `${source}: not found in the registry`);
  const msg = err instanceof Error ? err.message : String(err);
  return new AppError(502, 'registry_unavailable', `${source}: registry request failed: ${msg.split('\n')[0]}`, true, { cause: err });
}
