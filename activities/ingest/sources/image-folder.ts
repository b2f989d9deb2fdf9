import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { z } from 'zod';
import { FACE_SIZE, LABELS } from '../../../lib/labels';
import { Split } from '../../../lib/dataset/manifest';
import { SampleCollector, faceHash } from '../collector';
import { IngestContext, checkAborted } from '../context';
import { badSource } from '../errors';
import { listFiles, sha256Tree } from '../file-hash';
import { INGEST_RULES_VERSION, defineSource, localPath } from './source';

/** A tree of images, `<split>/<class>/<file>`, at a local path or file:// URI; keyed by the tree's content hash. */
export const imageFolder = defineSource({
  kind: 'image-folder',
  input: z.object({ kind: z.literal('image-folder'), path: z.string() }).strict(),
  async open(input, env) {
    const path = localPath(input.path, 'image-folder');
    const { sha256, files } = await imageFolderKey(path, env.ctx);
    return {
      key: `image-folder-r${INGEST_RULES_VERSION}-${sha256}`,
      collect: async (collector) => {
        await collectImageFolder(path, files, collector, env.ctx);
        return { kind: 'image-folder' as const, path, sha256 };
      },
    };
  },
});

const IMAGE_EXT = /\.(png|jpe?g|webp|gif|tiff?)$/i;
const SPLIT_DIRS: Record<string, Split> = { train: 'train', training: 'train', val: 'val', validation: 'val', test: 'test' };
const DECODE_BATCH = 8;

interface FolderFile {
  rel: string;
  split: Split | undefined; // undefined: train without a val folder, decided after decoding
  label: number; // -1: not under a known class folder
}

/**
 * Only files under a split folder (train/, val/ or validation/, test/; any case) are data; other files at
 * the root (README, LICENSE) and dotfiles (.DS_Store) are not rows and are not counted.
 */
function classify(files: string[]): FolderFile[] {
  const out: FolderFile[] = [];
  const hasVal = files.some((f) => SPLIT_DIRS[f.split('/')[0].toLowerCase()] === 'val');
  for (const rel of files) {
    const parts = rel.split('/');
    const split = SPLIT_DIRS[parts[0].toLowerCase()];
    if (!split || parts.length < 2 || parts[parts.length - 1].startsWith('.')) continue;
    const label = parts.length === 3 ? LABELS.indexOf(parts[1].toLowerCase() as (typeof LABELS)[number]) : -1;
    out.push({ rel, split: split === 'train' && !hasVal ? undefined : split, label });
  }
  return out;
}

export async function imageFolderKey(root: string, ctx: IngestContext): Promise<{ sha256: string; files: string[] }> {
  let isDir = false;
  try {
    isDir = (await stat(root)).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw badSource(`image folder ${root} does not exist or is not a directory`);
  const files = await listFiles(root);
  const tops = new Set(files.map((f) => SPLIT_DIRS[f.split('/')[0].toLowerCase()]).filter(Boolean));
  if (!tops.has('train') || !tops.has('test')) {
    throw badSource(`image folder ${root} needs train/<class>/ and test/<class>/ folders (classes: ${LABELS.join(', ')})`);
  }
  return { sha256: await sha256Tree(root, files, ctx), files };
}

/** Decodes any size or colour to a 48x48 grayscale face: centre crop to square, then resize. */
export async function decodeFace(bytes: Buffer): Promise<Uint8Array> {
  const { data, info } = await sharp(bytes, { failOn: 'error' })
    .flatten({ background: '#808080' }) // transparent areas become mid-gray, not black
    .grayscale()
    .resize(FACE_SIZE, FACE_SIZE, { fit: 'cover', position: 'centre' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1 || data.length !== FACE_SIZE * FACE_SIZE) {
    throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

export async function collectImageFolder(root: string, files: string[], collector: SampleCollector, ctx: IngestContext): Promise<void> {
  const items = classify(files);
  for (let start = 0; start < items.length; start += DECODE_BATCH) {
    checkAborted(ctx);
    const batch = items.slice(start, start + DECODE_BATCH);
    // decode a few at once (sharp runs off the main thread), add in file order so ids stay deterministic
    const decoded = await Promise.all(
      batch.map(async (f) => {
        if (f.label < 0 || !IMAGE_EXT.test(f.rel)) return undefined;
        try {
          return await decodeFace(await readFile(join(root, f.rel)));
        } catch (err) {
          return err as Error;
        }
      }),
    );
    batch.forEach((f, k) => {
      const face = decoded[k];
      if (f.label < 0) return collector.reject(f.rel, 'unknown_class', `expected <split>/<class>/file with class in ${LABELS.join('|')}`);
      if (face === undefined) return collector.reject(f.rel, 'not_an_image', 'extension is not png, jpg, webp, gif or tiff');
      if (face instanceof Error) return collector.reject(f.rel, 'unreadable_image', face.message.slice(0, 120));
      // No val folder: carve ~10% of train by content hash, deterministic and order-independent.
      const split = f.split ?? (faceHash(face) % 10 === 0 ? 'val' : 'train');
      collector.add(split, f.label, face, f.rel);
    });
    ctx.onProgress({ phase: 'decode-images', done: Math.min(start + DECODE_BATCH, items.length), total: items.length });
  }
}
