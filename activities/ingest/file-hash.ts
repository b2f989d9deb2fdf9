import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { IngestContext, checkAborted } from './context';

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
