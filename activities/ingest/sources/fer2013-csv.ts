import { open } from 'node:fs/promises';
import { z } from 'zod';
import { Split } from '../../../lib/dataset/manifest';
import { FACE_BYTES, RejectReason, SampleCollector, faceHash } from '../collector';
import { IngestContext, checkAborted } from '../context';
import { BackgroundHasher } from '../background-hash';
import { badSource } from '../errors';
import { INGEST_RULES_VERSION, defineSource, localPath, statFile } from './source';

/** The FER2013 CSV (emotion, pixels[, Usage]) at a local path or file:// URI. */
export const fer2013Csv = defineSource({
  kind: 'fer2013-csv',
  input: z.object({ kind: z.literal('fer2013-csv'), path: z.string() }).strict(),
  async open(input, env) {
    const path = localPath(input.path, 'fer2013-csv');
    // Keyed by file identity (device, inode, size, mtime) rather than a hash of 300 MB read before parsing;
    // a changed or copied file is parsed again and still lands on the same content id without a rewrite.
    const st = await statFile(path);
    return {
      key: `fer2013-csv-r${INGEST_RULES_VERSION}-${st.dev}-${st.ino}-${st.size}-${Math.round(st.mtimeMs * 1000)}`,
      collect: async (collector) => ({ kind: 'fer2013-csv' as const, path, sha256: await collectFer2013Csv(path, collector, env.ctx) }),
    };
  },
});

const CHUNK = 4 << 20;
/** FER2013 rows average ~8.4 KB: estimating with 8 KB reserves a little too much; files of shorter rows grow by doubling. */
const BYTES_PER_ROW_MIN = 8000;
const MAX_HEADER = 64 << 10;
const USAGE_SPLITS: Record<string, Split> = { Training: 'train', PublicTest: 'val', PrivateTest: 'test' };

// Byte values the parser switches on.
const NL = 10;
const CR = 13;
const COMMA = 44;
const QUOTE = 34;
const SPACE = 32;
const TAB = 9;
const D0 = 48;
const D9 = 57;

interface Columns {
  count: number;
  emotion: number;
  pixels: number;
  usage: number; // -1: no Usage column, split by content hash instead
}

function parseHeader(line: string, path: string): Columns {
  const names = line.replace(/^\uFEFF/, '').split(',').map((n) => n.trim().replace(/^"|"$/g, '').toLowerCase());
  const cols = { count: names.length, emotion: names.indexOf('emotion'), pixels: names.indexOf('pixels'), usage: names.indexOf('usage') };
  if (cols.emotion < 0 || cols.pixels < 0) {
    throw badSource(`${path}: not a FER2013 CSV: the header needs "emotion" and "pixels" columns, found: ${line.slice(0, 200)}`);
  }
  return cols;
}

/**
 * Streaming FER2013 CSV parser fed chunk by chunk: complete lines are parsed in place from the chunk, only a
 * line cut by the chunk end is carried over, so a 300 MB file is never held in memory (only the parsed
 * faces are) and no per-row strings are built. Every malformed row is handed to the collector with its reason.
 */
export class Fer2013CsvParser {
  private cols: Columns | undefined;
  private header: number[] = [];
  private line = 1; // number of the line being parsed (the header is line 1)
  private carry = new Uint8Array(16 << 10);
  private carryLen = 0;
  private readonly pixels = new Uint8Array(FACE_BYTES);

  constructor(
    private readonly collector: SampleCollector,
    private readonly path: string,
  ) {}

  push(chunk: Uint8Array, len: number): void {
    // A plain Uint8Array view: the carry buffer is one too, so the hot loop sees a single array type
    // (Buffer and Uint8Array are different shapes to V8, and a polymorphic loop runs measurably slower).
    const buf = new Uint8Array(chunk.buffer, chunk.byteOffset, len);
    let i = 0;
    if (!this.cols) {
      i = this.readHeader(buf, len);
      if (!this.cols) return;
    }
    if (this.carryLen > 0) {
      // finish the line cut at the end of the previous chunk
      const nl = buf.subarray(i, len).indexOf(NL);
      if (nl < 0) return this.keep(buf, i, len);
      this.keep(buf, i, i + nl);
      this.parseLine(this.carry, 0, this.carryLen);
      this.carryLen = 0;
      i += nl + 1;
    }
    for (;;) {
      const nl = buf.subarray(i, len).indexOf(NL);
      if (nl < 0) break;
      this.parseLine(buf, i, i + nl);
      i += nl + 1;
    }
    this.keep(buf, i, len);
  }

  /** Flushes a last row that has no trailing newline. */
  end(): void {
    if (!this.cols) {
      if (this.header.length === 0) throw badSource(`${this.path}: the file is empty`);
      this.cols = parseHeader(Buffer.from(this.header).toString('utf8'), this.path);
      return;
    }
    if (this.carryLen > 0) this.parseLine(this.carry, 0, this.carryLen);
    this.carryLen = 0;
  }

  private keep(buf: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    if (this.carryLen + n > this.carry.length) {
      const bigger = new Uint8Array(Math.max(this.carry.length * 2, this.carryLen + n));
      bigger.set(this.carry.subarray(0, this.carryLen));
      this.carry = bigger;
    }
    this.carry.set(buf.subarray(from, to), this.carryLen);
    this.carryLen += n;
  }

  private readHeader(buf: Uint8Array, len: number): number {
    for (let i = 0; i < len; i++) {
      if (buf[i] === NL) {
        this.cols = parseHeader(Buffer.from(this.header).toString('utf8').replace(/\r$/, ''), this.path);
        this.header = [];
        this.line = 2;
        return i + 1;
      }
      this.header.push(buf[i]);
      if (this.header.length > MAX_HEADER) throw badSource(`${this.path}: no header line in the first ${MAX_HEADER} bytes`);
    }
    return len;
  }

  /** One line, `buf[start, end)` without its newline. */
  private parseLine(buf: Uint8Array, start: number, end: number): void {
    const where = `line ${this.line++}`;
    if (end > start && buf[end - 1] === CR) end--;
    if (end === start) return; // a blank line is not a row
    const cols = this.cols!;
    const px = this.pixels;
    const faceBytes = FACE_BYTES; // a local: imported bindings compile to property reads
    let col = 0;
    let count = 0;
    let pixNonNumeric = false;
    let pixOutOfRange = false;
    let label = 0;
    let labelDigits = 0;
    let labelNonNumeric = false;
    let usageStart = -1;
    let usageEnd = -1;
    let i = start;
    for (;;) {
      if (col === cols.pixels) {
        // Hot loop: ~99% of the bytes. Numbers are read whole, separators skipped.
        while (i < end) {
          const c = buf[i];
          if (c === COMMA) break;
          let v = c - D0;
          i++;
          if (v >>> 0 > 9) {
            if (c !== SPACE && c !== TAB && c !== QUOTE) pixNonNumeric = true;
            continue;
          }
          while (i < end) {
            const d = buf[i] - D0;
            if (d >>> 0 > 9) break;
            v = v * 10 + d;
            i++;
          }
          if (v > 255) pixOutOfRange = true;
          if (count < faceBytes) px[count] = v;
          count++;
        }
      } else {
        const fieldStart = i;
        while (i < end && buf[i] !== COMMA) i++;
        if (col === cols.emotion) {
          for (let k = fieldStart; k < i; k++) {
            const c = buf[k];
            if (c >= D0 && c <= D9) {
              label = label * 10 + (c - D0);
              labelDigits++;
            } else if (c !== SPACE && c !== QUOTE) {
              labelNonNumeric = true;
            }
          }
        } else if (col === cols.usage) {
          usageStart = fieldStart;
          usageEnd = i;
        }
      }
      if (i >= end) break;
      i++; // the comma
      col++;
    }

    const reject = (reason: RejectReason, detail?: string): void => this.collector.reject(where, reason, detail);
    if (col + 1 !== cols.count) return reject('wrong_column_count', `${col + 1} columns, header has ${cols.count}`);
    if (labelNonNumeric || labelDigits === 0) return reject('non_numeric', 'emotion is not an integer');
    if (pixNonNumeric) return reject('non_numeric', 'pixels hold a non-digit character');
    if (count !== FACE_BYTES) return reject('wrong_pixel_count', `${count} values, expected ${FACE_BYTES}`);
    if (pixOutOfRange) return reject('pixel_out_of_range', 'a value is above 255');
    if (label > 6) return reject('label_out_of_range', `emotion ${label}`);
    let split: Split;
    if (cols.usage >= 0) {
      const usage = Buffer.from(buf.buffer, buf.byteOffset + usageStart, usageEnd - usageStart).toString('latin1').replace(/"/g, '').trim();
      const s = USAGE_SPLITS[usage];
      if (!s) return reject('unknown_usage', JSON.stringify(usage.slice(0, 20)));
      split = s;
    } else {
      split = hashSplit(px);
    }
    this.collector.add(split, label, px, where);
  }
}

/**
 * Split for data without a Usage column: from the content hash, so it is deterministic, independent of row
 * order, and exact duplicates always land together (80/10/10).
 */
export function hashSplit(pixels: Uint8Array): Split {
  const bucket = faceHash(pixels) % 10;
  return bucket === 0 ? 'test' : bucket === 1 ? 'val' : 'train';
}

/** Parses the CSV into `collector`; returns the sha256 of the file's bytes, hashed alongside on another thread. */
export async function collectFer2013Csv(path: string, collector: SampleCollector, ctx: IngestContext): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw badSource(`cannot open FER2013 CSV ${path}: ${(err as Error).message}`);
  }
  try {
    const total = (await fh.stat()).size;
    collector.reserve(Math.ceil(total / BYTES_PER_ROW_MIN));
    const parser = new Fer2013CsvParser(collector, path);
    const hasher = new BackgroundHasher();
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      let done = 0;
      for (;;) {
        checkAborted(ctx);
        const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
        if (bytesRead === 0) break;
        await hasher.update(buf.subarray(0, bytesRead));
        parser.push(buf, bytesRead);
        done += bytesRead;
        ctx.onProgress({ phase: 'parse-csv', done, total });
      }
      parser.end();
      return await hasher.digest();
    } catch (err) {
      await hasher.dispose();
      throw err;
    }
  } finally {
    await fh.close();
  }
}
