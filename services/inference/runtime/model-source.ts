import { realpath } from 'node:fs/promises';
import { relative, isAbsolute, sep } from 'node:path';
import { MlflowClient } from '../../../lib/mlflow/client';
import { ModelArtifactError } from '../../../lib/onnx/model-error';
import { cachedRegistryVersion } from '../../../lib/onnx/registry-cache';
import { AppError } from '../errors';

/**
 * Turns an admin `source` into a local model directory:
 * - a local path, accepted only when its real path lies inside one of FEROPS_MODEL_DIRS (symlinks and `..`
 *   resolved first, so no traversal out of them);
 * - `models:/<name>/<version>` or `models:/<name>@<alias>`, downloaded from the MLflow registry into the cache
 *   dir once, verified by sha256 and reused while the checksum still matches (lib/onnx/registry-cache.ts, which
 *   the evaluate activity uses too).
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

const REGISTRY_URI = /^models:\/([A-Za-z0-9][\w.-]*)(?:\/(\d+)|@([A-Za-z][\w-]*))$/;

/** `models:/<name>/<version>` or `models:/<name>@<alias>` taken apart; null for anything else. */
export function parseRegistrySource(source: string): RegistrySource | null {
  const m = REGISTRY_URI.exec(source);
  if (!m) return null;
  return m[3] === undefined ? { name: m[1], version: m[2] } : { name: m[1], alias: m[3] };
}
type RegistrySource = { name: string; version: string; alias?: undefined } | { name: string; alias: string; version?: undefined };

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
  const parsed = parseRegistrySource(source);
  if (!parsed) throw new AppError(400, 'invalid_source', 'registry sources look like models:/<name>/<version> or models:/<name>@<alias>');
  const { name } = parsed;
  const client = opts.registry();
  let mv: { version: string; tags?: { key: string; value: string }[] } | null;
  try {
    mv = parsed.alias !== undefined ? await client.getModelVersionByAlias(name, parsed.alias) : await client.getModelVersion(name, parsed.version);
  } catch (err) {
    throw registryError(source, err);
  }
  if (!mv) throw new AppError(404, 'model_not_found', `${source}: no such alias in the registry`);
  // The version becomes a cache path component: accept only what MLflow issues (a positive integer).
  if (!/^\d+$/.test(mv.version)) throw new AppError(502, 'registry_unavailable', `${source}: registry returned version "${mv.version}"`);
  let dir: string;
  try {
    dir = await cachedRegistryVersion(client, opts.cacheDir, { name, version: mv.version, tags: mv.tags });
  } catch (err) {
    if (err instanceof ModelArtifactError) throw new AppError(422, err.code, `${source}: ${err.message}`);
    throw registryError(source, err);
  }
  // The registry's own version number: a replica reports the same "3" whether the pipeline or FEROPS_STABLE_MODEL loaded it.
  return { dir, version: mv.version, source };
}

function registryError(source: string, err: unknown): AppError {
  const status = (err as { status?: number }).status;
  if (status === 404) return new AppError(404, 'model_not_found', `${source}: not found in the registry`);
  const msg = err instanceof Error ? err.message : String(err);
  return new AppError(502, 'registry_unavailable', `${source}: registry request failed: ${msg.split('\n')[0]}`, true, { cause: err });
}
