import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_FILE } from '../../lib/dataset/manifest';
import { datasetsDir } from './writer';

/**
 * Maps a cheap key of the input (synthetic parameters, or the sha256 of a source file) to the datasetId it
 * produced, so a re-ingest finds the existing version without regenerating or parsing anything.
 * The index is only a shortcut: an entry whose dataset directory is gone is ignored.
 */
const indexDir = (dataRoot: string): string => join(dataRoot, 'ingest-index');

export function lookupSource(dataRoot: string, key: string): { datasetId: string; uri: string } | undefined {
  const file = join(indexDir(dataRoot), `${key}.json`);
  if (!existsSync(file)) return undefined;
  try {
    const { datasetId } = JSON.parse(readFileSync(file, 'utf8')) as { datasetId: string };
    const uri = join(datasetsDir(dataRoot), datasetId);
    return existsSync(join(uri, MANIFEST_FILE)) ? { datasetId, uri } : undefined;
  } catch {
    return undefined; // a torn or foreign file: just do the work again
  }
}

export function rememberSource(dataRoot: string, key: string, datasetId: string): void {
  const dir = indexDir(dataRoot);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${key}.${randomBytes(4).toString('hex')}.tmp`);
  writeFileSync(tmp, JSON.stringify({ datasetId }) + '\n');
  renameSync(tmp, join(dir, `${key}.json`));
}
