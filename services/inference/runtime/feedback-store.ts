import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, rename, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/**
 * The durable feedback log: one JSON object per line, appended and fsync'd before the client hears "stored",
 * so an acknowledged label survives a crash. JSON lines rather than SQLite: node 20 has no built-in sqlite,
 * native modules do not build here, and sql.js keeps the whole database in memory and must rewrite the whole
 * file on every insert to persist it; an append is O(1), and a torn last line (crash mid-write) is skipped on
 * load. On start the log is replayed, line by line, to rebuild the live accuracy per model version.
 *
 * Bounded: past `maxBytes` the log is renamed to `<path>.1` (replacing the previous one) and a new one started,
 * so the disk holds at most two files and start-up reads at most those two. Writes and fsyncs run on libuv's
 * thread pool, one at a time in arrival order, never on the event loop.
 */
export interface FeedbackRecord {
  t: string;
  requestId: string;
  faceIndex: number;
  modelVersion: string;
  slot: string;
  predicted: string;
  label: string;
  correct: boolean;
}

export interface VersionAccuracy {
  total: number;
  correct: number;
}

export interface FeedbackStoreOptions {
  /** Size at which the log is rotated to `<path>.1`. */
  maxBytes: number;
}

/** A line longer than this is not a record (one is ~200 bytes): it is skipped without being held whole. */
export const MAX_LINE_BYTES = 64 * 1024;
/** How many skipped lines are named in `skipped.sample`, for the start-up warning. */
const SAMPLE = 5;

type Counts = Map<string, VersionAccuracy>;

export class FeedbackStore {
  private fh: FileHandle | undefined;
  private queue: Promise<void> = Promise.resolve();
  /** Counts of the current file and of `.1`: a rotation drops the old `.1` and its counts together. */
  private current: Counts = new Map();
  private rotated: Counts = new Map();
  private size = 0;
  /** A torn last line is ended first, so the next record does not glue onto it and get lost with it. */
  private endTornLine = false;
  /** Lines of the log that are not records, skipped on start: how many, and `file:line: why` of the first few. */
  readonly skipped = { lines: 0, sample: [] as string[] };

  private constructor(
    readonly path: string,
    private readonly options: FeedbackStoreOptions,
  ) {}

  /** Replays `<path>.1` and `<path>` (either may be missing) and returns the store, ready to append. */
  static async open(path: string, options: FeedbackStoreOptions): Promise<FeedbackStore> {
    const store = new FeedbackStore(path, options);
    await store.replay(`${path}.1`, store.rotated);
    const tail = await store.replay(path, store.current);
    store.size = tail.size;
    store.endTornLine = tail.torn;
    return store;
  }

  /** Appends one record durably; appends run one at a time, in call order. Rejects if it could not be stored. */
  append(r: FeedbackRecord): Promise<void> {
    const run = this.queue.then(() => this.write(r));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Labelled and correct faces per model version, over the retained log (`.1` and the current file). */
  accuracy(): Map<string, VersionAccuracy> {
    const all: Counts = new Map();
    for (const counts of [this.rotated, this.current]) {
      for (const [v, c] of counts) {
        const a = all.get(v) ?? { total: 0, correct: 0 };
        all.set(v, { total: a.total + c.total, correct: a.correct + c.correct });
      }
    }
    return all;
  }

  /** Waits for pending appends, then closes the file. */
  async close(): Promise<void> {
    await this.queue;
    await this.fh?.close();
    this.fh = undefined;
  }

  private async write(r: FeedbackRecord): Promise<void> {
    let line = `${this.endTornLine ? '\n' : ''}${JSON.stringify(r)}\n`;
    if (this.size > 0 && this.size + Buffer.byteLength(line) > this.options.maxBytes) {
      await this.rotate();
      line = `${JSON.stringify(r)}\n`;
    }
    const fh = await this.handle();
    // One write of the whole line: O_APPEND keeps it in one piece at the end of the file.
    await fh.write(line);
    this.size += Buffer.byteLength(line);
    this.endTornLine = false;
    await fh.sync();
    count(this.current, r);
  }

  private async handle(): Promise<FileHandle> {
    if (this.fh) return this.fh;
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true });
    const created = !(await exists(this.path));
    this.fh = await open(this.path, 'a');
    // A new file's directory entry must reach the disk too, or the first fsync'd record can vanish with it.
    if (created) await syncDir(dir);
    return this.fh;
  }

  private async rotate(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    await rename(this.path, `${this.path}.1`);
    await syncDir(dirname(this.path));
    this.rotated = this.current;
    this.current = new Map();
    this.size = 0;
    this.endTornLine = false;
  }

  private async replay(path: string, into: Counts): Promise<{ size: number; torn: boolean }> {
    if (!(await exists(path))) return { size: 0, torn: false };
    return eachLine(path, (line, n) => {
      if (line !== undefined && !line.trim()) return;
      try {
        if (line === undefined) throw new Error(`longer than ${MAX_LINE_BYTES} bytes`);
        const r = JSON.parse(line) as FeedbackRecord | null;
        if (typeof r?.modelVersion !== 'string' || typeof r.correct !== 'boolean') throw new Error('not a feedback record');
        count(into, r);
      } catch (err) {
        if (this.skipped.lines++ < SAMPLE) this.skipped.sample.push(`${basename(path)}:${n}: ${(err as Error).message}`);
      }
    });
  }
}

function count(into: Counts, r: FeedbackRecord): void {
  const v = into.get(r.modelVersion) ?? { total: 0, correct: 0 };
  v.total++;
  if (r.correct) v.correct++;
  into.set(r.modelVersion, v);
}

/**
 * Calls `visit(line, lineNumber)` for each line of the file, streamed; `line` is undefined for a line over
 * MAX_LINE_BYTES, whose bytes are dropped as they stream by. Not readline: readline holds a line whole however
 * long it is, and a crash can leave a log ending in a long run of zero bytes with no newline.
 */
async function eachLine(path: string, visit: (line: string | undefined, n: number) => void): Promise<{ size: number; torn: boolean }> {
  let parts: Buffer[] = [];
  let length = 0;
  let overlong = false;
  let n = 0;
  let size = 0;
  let last = 0x0a;
  const take = (piece: Buffer) => {
    if (overlong || piece.length === 0) return;
    length += piece.length;
    if (length > MAX_LINE_BYTES) {
      overlong = true;
      parts = [];
    } else parts.push(Buffer.from(piece)); // a copy: a slice would keep the whole 64 KB chunk alive
  };
  const emit = () => {
    visit(overlong ? undefined : Buffer.concat(parts, length).toString('utf8'), ++n);
    parts = [];
    length = 0;
    overlong = false;
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    last = chunk[chunk.length - 1];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      take(chunk.subarray(start, nl));
      emit();
      start = nl + 1;
    }
    take(chunk.subarray(start));
  }
  const torn = last !== 0x0a;
  if (torn) emit();
  return { size, torn };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
