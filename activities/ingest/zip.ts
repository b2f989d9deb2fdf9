import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';

/**
 * A small zip reader (central directory + stored/deflate entries), enough for Kaggle downloads; entries are
 * streamed to disk so a 300 MB CSV inside a zip is never held in memory. The archive is untrusted: the central
 * directory must fit in the file, the declared sizes must add up to at most `maxTotalBytes`, and an entry that
 * inflates to more (or less) than its declared size is refused, so a zip bomb cannot fill the disk.
 */
export interface ZipEntry {
  name: string;
  method: number; // 0 stored, 8 deflate
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const CEN_SIG = 0x02014b50;
const LOC_SIG = 0x04034b50;
const CEN_MIN = 46;

/** Default cap on the declared uncompressed total: well above any FER-style dataset; more is refused, not written. */
export const MAX_ZIP_TOTAL_BYTES = 16 * 1024 ** 3;

export async function readZipEntries(path: string, opts: { maxTotalBytes?: number } = {}): Promise<ZipEntry[]> {
  const maxTotalBytes = opts.maxTotalBytes ?? MAX_ZIP_TOTAL_BYTES;
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const tailLen = Math.min(size, 22 + 0xffff);
    const tail = Buffer.alloc(tailLen);
    await fh.read(tail, 0, tailLen, size - tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIG) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
    const count = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdOffset === 0xffffffff) throw new Error('zip64 archives are not supported');
    // Sizes from the header are checked against the file before anything is allocated from them.
    const eocdAt = size - tailLen + eocd;
    if (cdOffset + cdSize > eocdAt) throw new Error(`corrupt zip: central directory (${cdSize} bytes at ${cdOffset}) overruns the ${size}-byte file`);
    if (count * CEN_MIN > cdSize) throw new Error(`corrupt zip: ${count} entries cannot fit a ${cdSize}-byte central directory`);
    const cd = Buffer.alloc(cdSize);
    await fh.read(cd, 0, cdSize, cdOffset);
    const entries: ZipEntry[] = [];
    let total = 0;
    let p = 0;
    for (let k = 0; k < count; k++) {
      if (p + CEN_MIN > cd.length || cd.readUInt32LE(p) !== CEN_SIG) throw new Error('corrupt zip central directory');
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const e: ZipEntry = {
        method: cd.readUInt16LE(p + 10),
        compressedSize: cd.readUInt32LE(p + 20),
        size: cd.readUInt32LE(p + 24),
        localHeaderOffset: cd.readUInt32LE(p + 42),
        name: cd.toString('utf8', p + 46, p + 46 + nameLen),
      };
      if (e.localHeaderOffset + 30 + e.compressedSize > cdOffset) throw new Error(`corrupt zip: entry ${e.name} overruns the central directory`);
      if (e.method === 0 && e.compressedSize !== e.size) throw new Error(`corrupt zip: stored entry ${e.name} declares ${e.size} bytes but holds ${e.compressedSize}`);
      total += e.size;
      if (total > maxTotalBytes) throw new Error(`zip declares more than ${maxTotalBytes} uncompressed bytes; refusing to extract it`);
      entries.push(e);
      p += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
  } finally {
    await fh.close();
  }
}

/** A name that stays inside the extraction folder (no zip-slip through "../" or absolute paths). */
export function isSafeEntryName(name: string): boolean {
  return !name.startsWith('/') && !name.includes('\\') && !name.split('/').includes('..') && !/^[a-z]:/i.test(name);
}

export async function extractEntry(zipPath: string, entry: ZipEntry, dest: string): Promise<void> {
  if (entry.method !== 0 && entry.method !== 8) throw new Error(`${entry.name}: unsupported zip compression method ${entry.method}`);
  const fh = await open(zipPath, 'r');
  let dataStart: number;
  try {
    const loc = Buffer.alloc(30);
    await fh.read(loc, 0, 30, entry.localHeaderOffset);
    if (loc.readUInt32LE(0) !== LOC_SIG) throw new Error(`${entry.name}: corrupt local header`);
    dataStart = entry.localHeaderOffset + 30 + loc.readUInt16LE(26) + loc.readUInt16LE(28);
  } finally {
    await fh.close();
  }
  const out = createWriteStream(dest);
  if (entry.compressedSize === 0) {
    out.end();
    await new Promise<void>((resolve, reject) => out.on('finish', () => resolve()).on('error', reject));
    if (entry.size !== 0) throw new Error(`${entry.name}: declares ${entry.size} bytes but holds none`);
    return;
  }
  const src = createReadStream(zipPath, { start: dataStart, end: dataStart + entry.compressedSize - 1 });
  try {
    if (entry.method === 0) await pipeline(src, exactSize(entry), out);
    else await pipeline(src, createInflateRaw(), exactSize(entry), out);
  } catch (err) {
    await rm(dest, { force: true });
    throw err;
  }
}

/** Passes the entry's bytes through, failing as soon as they exceed its declared size, or at the end if short. */
function exactSize(entry: ZipEntry): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > entry.size) done(new Error(`${entry.name}: inflates beyond its declared ${entry.size} bytes (a zip bomb or a corrupt archive)`));
      else done(null, chunk);
    },
    flush(done) {
      done(seen === entry.size ? null : new Error(`${entry.name}: holds ${seen} bytes, not the declared ${entry.size}`));
    },
  });
}
