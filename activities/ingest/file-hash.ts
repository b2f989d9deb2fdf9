import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { IngestContext, checkAborted } from './context';

/** sha256 of a file's bytes, streamed (the key that finds an already-ingested file before parsing it). */
export async function sha256File(path: string, ctx: IngestContext): Promise<string> {
  const h = createHash('sha256');
  const total = (await stat(path)).size;
  let done = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) {
    checkAborted(ctx);
    h.update(chunk as Buffer);
    done += (chunk as Buffer).length;
    ctx.onProgress({ phase: 'hash-source', done, total });
  }
  return h.digest('hex');
}

/** Every regular file under `root`, as sorted '/'-separated relative paths (sorted: the order is the hash's). */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) out.push(relative(root, full).split(sep).join('/'));
    }
  };
  await walk(root);
  return out.sort();
}

/** sha256 over a tree: each file's relative path and bytes, in sorted order. */
export async function sha256Tree(root: string, files: string[], ctx: IngestContext): Promise<string> {
  const h = createHash('sha256');
  let done = 0;
  for (const rel of files) {
    checkAborted(ctx);
    h.update(`${rel}\0`);
    for await (const chunk of createReadStream(join(root, rel))) h.update(chunk as Buffer);
    h.update('\0');
    ctx.onProgress({ phase: 'hash-source', done: ++done, total: files.length });
  }
  return h.digest('hex');
}
