import { mkdtempSync, readdirSync, renameSync, rmSync, mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep, basename } from 'node:path';
import { joinArtifactPath, listedBaseName, proxyPath } from './artifact-uri';
import type { MlflowHttp } from './http';
import type { ArtifactEntry } from './types';

/** Uploads one file to `<artifactUri>/<destPath>` (destPath defaults to the file's name). */
export async function uploadFile(http: MlflowHttp, artifactUri: string, localFile: string, destPath?: string): Promise<void> {
  await http.putFile(joinArtifactPath(proxyPath(artifactUri), destPath ?? basename(localFile)), localFile);
}

/** Uploads every file under `localDir` to `<artifactUri>/<destPrefix>/...`, keeping the tree. Re-uploads overwrite. */
export async function uploadDir(http: MlflowHttp, artifactUri: string, localDir: string, destPrefix = ''): Promise<string[]> {
  const files = walk(localDir);
  for (const f of files) {
    const rel = relative(localDir, f).split(sep).join('/');
    await http.putFile(joinArtifactPath(proxyPath(artifactUri), destPrefix, rel), f);
  }
  return files.map((f) => relative(localDir, f).split(sep).join('/'));
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : d.isFile() ? [join(dir, d.name)] : []));
}

/** Lists `<artifactUri>/<subPath>`, recursively by default; paths are relative to `subPath`. */
export async function listArtifacts(http: MlflowHttp, artifactUri: string, subPath = '', recursive = true): Promise<ArtifactEntry[]> {
  const root = joinArtifactPath(proxyPath(artifactUri), subPath);
  const out: ArtifactEntry[] = [];
  const visit = async (rel: string): Promise<void> => {
    for (const f of await http.listDir(joinArtifactPath(root, rel))) {
      const path = joinArtifactPath(rel, listedBaseName(f.path));
      out.push({ path, isDir: Boolean(f.is_dir), size: f.file_size === undefined ? undefined : Number(f.file_size) });
      if (f.is_dir && recursive) await visit(path);
    }
  };
  await visit('');
  return out;
}

export async function downloadFile(http: MlflowHttp, artifactUri: string, path: string, localFile: string): Promise<void> {
  await http.getToFile(joinArtifactPath(proxyPath(artifactUri), path), localFile);
}

/**
 * Downloads the tree under `<artifactUri>/<subPath>` into `destDir`. Files land in a sibling temporary directory
 * first and are moved in only when all arrived, so a reader never sees half a model.
 */
export async function downloadDir(http: MlflowHttp, artifactUri: string, subPath: string, destDir: string): Promise<string[]> {
  const entries = (await listArtifacts(http, artifactUri, subPath)).filter((e) => !e.isDir);
  if (entries.length === 0) throw new Error(`no artifacts under ${artifactUri}/${subPath}`);
  mkdirSync(dirname(destDir), { recursive: true });
  const tmp = mkdtempSync(join(dirname(destDir), `.${basename(destDir)}.partial-`));
  try {
    for (const e of entries) await downloadFile(http, artifactUri, joinArtifactPath(subPath, e.path), localPathUnder(tmp, e.path));
    mkdirSync(destDir, { recursive: true });
    for (const name of readdirSync(tmp)) {
      rmSync(join(destDir, name), { recursive: true, force: true });
      renameSync(join(tmp, name), join(destDir, name));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return entries.map((e) => e.path);
}

/** Where `artifactPath` lands under `dir`; refuses one that would resolve outside it. */
function localPathUnder(dir: string, artifactPath: string): string {
  const dest = resolve(dir, ...artifactPath.split('/'));
  const rel = relative(resolve(dir), dest);
  if (!rel || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new Error(`artifact path ${JSON.stringify(artifactPath)} would be written outside ${dir}; refusing to download it`);
  }
  return dest;
}
