import { open } from 'node:fs/promises';
import { Split } from '../../../lib/dataset/manifest';
import { FACE_BYTES, RejectReason, SampleCollector, faceHash } from '../collector';
import { IngestContext, checkAborted } from '../context';
import { badSource } from '../errors';

const CHUNK = 4 << 20;
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
 * Streaming FER2013 CSV parser: a byte-level state machine fed chunk by chunk, so a 300 MB file is never held
 * in memory (only the parsed 48x48 faces are) and no per-row strings are built. Every malformed row is
 * handed to the collector with its reason.
 */
export class Fer2013CsvParser {
  private cols: Columns | undefined;
  private header: number[] = [];
  private line = 1; // line number of the row being parsed (the header is line 1)
  private col = 0;
  private rowHasBytes = false;
  // pixels field
  private readonly pixels = new Uint8Array(FACE_BYTES);
  private count = 0;
  private cur = 0;
  private inNum = false;
  private pixNonNumeric = false;
  private pixOutOfRange = false;
  // emotion field
  private label = 0;
  private labelDigits = 0;
  private labelNonNumeric = false;
  // Usage field (short, kept as bytes)
  private usage: number[] = [];

  constructor(
    private readonly collector: SampleCollector,
    private readonly path: string,
  ) {}

  push(buf: Uint8Array, len: number): void {
    let i = 0;
    if (!this.cols) {
      i = this.readHeader(buf, len);
      if (!this.cols) return;
    }
    const cols = this.cols;
    const pixCol = cols.pixels;
    const emoCol = cols.emotion;
    const useCol = cols.usage;
    const px = this.pixels;
    const faceBytes = FACE_BYTES; // a local: imported bindings compile to property reads
    while (i < len) {
      if (this.col === pixCol) {
        // Hot loop: ~99% of the bytes are pixel digits and spaces. Locals keep V8 in registers.
        let cur = this.cur;
        let inNum = this.inNum;
        let count = this.count;
        let nonNumeric = this.pixNonNumeric;
        let outOfRange = this.pixOutOfRange;
        for (; i < len; i++) {
          const c = buf[i];
          if (c >= D0 && c <= D9) {
            cur = cur * 10 + (c - D0);
            inNum = true;
          } else if (c === SPACE || c === TAB) {
            if (inNum) {
              if (cur > 255) outOfRange = true;
              if (count < faceBytes) px[count] = cur;
              count++;
              cur = 0;
              inNum = false;
            }
          } else if (c === COMMA || c === NL || c === CR) {
            break;
          } else if (c !== QUOTE) {
            nonNumeric = true;
          }
        }
        this.cur = cur;
        this.inNum = inNum;
        this.count = count;
        this.pixNonNumeric = nonNumeric;
        this.pixOutOfRange = outOfRange;
        this.rowHasBytes = true;
        if (i >= len) break;
      }
      const c = buf[i++];
      if (c === NL) {
        this.endRow();
      } else if (c === COMMA) {
        this.endField();
        this.col++;
        this.rowHasBytes = true;
      } else if (c === CR || c === QUOTE) {
        continue;
      } else {
        this.rowHasBytes = true;
        if (this.col === emoCol) {
          if (c >= D0 && c <= D9) {
            this.label = this.label * 10 + (c - D0);
            this.labelDigits++;
          } else if (c !== SPACE) {
            this.labelNonNumeric = true;
          }
        } else if (this.col === useCol && this.usage.length < 32) {
          this.usage.push(c);
        }
      }
    }
  }

  /** Flushes a last row that has no trailing newline. */
  end(): void {
    if (!this.cols) {
      if (this.header.length === 0) throw badSource(`${this.path}: the file is empty`);
      this.cols = parseHeader(Buffer.from(this.header).toString('utf8'), this.path);
      return;
    }
    if (this.rowHasBytes) this.endRow();
  }

  get rowsSeen(): number {
    return this.line - 1;
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

  private endField(): void {
    if (this.col === this.cols!.pixels && this.inNum) {
      if (this.cur > 255) this.pixOutOfRange = true;
      if (this.count < FACE_BYTES) this.pixels[this.count] = this.cur;
      this.count++;
      this.cur = 0;
      this.inNum = false;
    }
  }

  private endRow(): void {
    this.endField();
    if (this.rowHasBytes) this.classify();
    this.line++;
    this.col = 0;
    this.rowHasBytes = false;
    this.count = 0;
    this.cur = 0;
    this.inNum = false;
    this.pixNonNumeric = false;
    this.pixOutOfRange = false;
    this.label = 0;
    this.labelDigits = 0;
    this.labelNonNumeric = false;
    this.usage.length = 0;
  }

  private classify(): void {
    const cols = this.cols!;
    const where = `line ${this.line}`;
    const reject = (reason: RejectReason, detail?: string): void => this.collector.reject(where, reason, detail);
    if (this.col + 1 !== cols.count) return reject('wrong_column_count', `${this.col + 1} columns, header has ${cols.count}`);
    if (this.labelNonNumeric || this.labelDigits === 0) return reject('non_numeric', 'emotion is not an integer');
    if (this.pixNonNumeric) return reject('non_numeric', 'pixels hold a non-digit character');
    if (this.count !== FACE_BYTES) return reject('wrong_pixel_count', `${this.count} values, expected ${FACE_BYTES}`);
    if (this.pixOutOfRange) return reject('pixel_out_of_range', 'a value is above 255');
    if (this.label > 6) return reject('label_out_of_range', `emotion ${this.label}`);
    let split: Split;
    if (cols.usage >= 0) {
      const usage = Buffer.from(this.usage).toString('utf8').trim();
      const s = USAGE_SPLITS[usage];
      if (!s) return reject('unknown_usage', JSON.stringify(usage.slice(0, 20)));
      split = s;
    } else {
      split = hashSplit(this.pixels);
    }
    this.collector.add(split, this.label, this.pixels, where);
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

export async function collectFer2013Csv(path: string, collector: SampleCollector, ctx: IngestContext): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw badSource(`cannot open FER2013 CSV ${path}: ${(err as Error).message}`);
  }
  try {
    const total = (await fh.stat()).size;
    const parser = new Fer2013CsvParser(collector, path);
    const buf = Buffer.allocUnsafe(CHUNK);
    let done = 0;
    for (;;) {
      checkAborted(ctx);
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      parser.push(buf, bytesRead);
      done += bytesRead;
      ctx.onProgress({ phase: 'parse-csv', done, total });
    }
    parser.end();
  } finally {
    await fh.close();
  }
}
