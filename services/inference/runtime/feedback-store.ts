import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The durable feedback log: one JSON object per line, appended and fsync'd before the client hears "stored",
 * so an acknowledged label survives a crash. JSON lines rather than SQLite: node 20 has no built-in sqlite,
 * native modules do not build here, and sql.js keeps the whole database in memory and must rewrite the whole
 * file on every insert to persist it; an append is O(1), and a torn last line (crash mid-write) is skipped on
 * load. On start the log is replayed to rebuild the live accuracy per model version.
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

export class FeedbackStore {
  private fd: number | undefined;
  private readonly perVersion = new Map<string, VersionAccuracy>();
  skippedLines = 0;
  /** A torn last line is ended first, so the next record does not glue onto it and get lost with it. */
  private endTornLine = false;

  constructor(readonly path: string) {
    if (!existsSync(path)) return;
    const text = readFileSync(path, 'utf8');
    this.replay(text);
    this.endTornLine = text.length > 0 && !text.endsWith('\n');
  }

  append(r: FeedbackRecord): void {
    if (this.fd === undefined) {
      mkdirSync(dirname(this.path), { recursive: true });
      const created = !existsSync(this.path);
      this.fd = openSync(this.path, 'a');
      // A new file's directory entry must reach the disk too, or the first fsync'd record can vanish with it.
      if (created) syncDir(dirname(this.path));
    }
    // One write of the whole line: O_APPEND keeps concurrent appends from interleaving within it.
    writeSync(this.fd, `${this.endTornLine ? '\n' : ''}${JSON.stringify(r)}\n`);
    this.endTornLine = false;
    fsyncSync(this.fd);
    this.count(r);
  }

  accuracy(): Map<string, VersionAccuracy> {
    return this.perVersion;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private replay(text: string): void {
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as FeedbackRecord;
        if (typeof r.modelVersion !== 'string' || typeof r.correct !== 'boolean') throw new Error('not a feedback record');
        this.count(r);
      } catch {
        this.skippedLines++;
      }
    }
  }

  private count(r: FeedbackRecord): void {
    const v = this.perVersion.get(r.modelVersion) ?? { total: 0, correct: 0 };
    v.total++;
    if (r.correct) v.correct++;
    this.perVersion.set(r.modelVersion, v);
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
