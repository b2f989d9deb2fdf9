import { FACE_SIZE, NUM_CLASSES } from '../../lib/labels';
import { MAX_LISTED_REJECTS, RejectedRow, Split, SPLITS } from '../../lib/dataset/manifest';

export const FACE_BYTES = FACE_SIZE * FACE_SIZE;

/** Why a row or file was not taken. Every source reports through these, so manifests read the same. */
export type RejectReason =
  | 'wrong_column_count'
  | 'wrong_pixel_count'
  | 'non_numeric'
  | 'pixel_out_of_range'
  | 'label_out_of_range'
  | 'unknown_usage'
  | 'unknown_class'
  | 'unreadable_image'
  | 'not_an_image'
  | 'duplicate_across_splits';

export interface CollectedSplit {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export interface Collected {
  splits: Record<Split, CollectedSplit>;
  rejected: { total: number; byReason: Record<string, number>; rows: RejectedRow[] };
  accepted: number;
}

/** Growable uint8 buffer of faces and labels for one split (doubling, so appends are amortised O(1)). */
class SplitBuffer {
  images = new Uint8Array(FACE_BYTES * 1024);
  labels = new Uint8Array(1024);
  count = 0;

  /** Grows to hold at least `capacity` faces (one copy now instead of several doublings later). */
  reserve(capacity: number): void {
    if (capacity <= this.labels.length) return;
    const images = new Uint8Array(capacity * FACE_BYTES);
    images.set(this.images.subarray(0, this.count * FACE_BYTES));
    this.images = images;
    const labels = new Uint8Array(capacity);
    labels.set(this.labels.subarray(0, this.count));
    this.labels = labels;
  }

  push(pixels: Uint8Array, label: number): number {
    if (this.count === this.labels.length) this.reserve(this.labels.length * 2);
    this.images.set(pixels, this.count * FACE_BYTES);
    this.labels[this.count] = label;
    return this.count++;
  }

  face(index: number): Uint8Array {
    return this.images.subarray(index * FACE_BYTES, (index + 1) * FACE_BYTES);
  }

  done(): CollectedSplit {
    return { images: this.images.slice(0, this.count * FACE_BYTES), labels: this.labels.slice(0, this.count), count: this.count };
  }
}

/** 53-bit hash of a face (two 32-bit FNV-1a style lanes); a hit is confirmed byte by byte. */
export function faceHash(p: Uint8Array): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ p.length;
  for (let i = 0; i < p.length; i++) {
    h1 = Math.imul(h1 ^ p[i], 0x01000193);
    h2 = Math.imul(h2 ^ p[i], 0x5bd1e995) ^ (h2 >>> 15);
  }
  return (h1 >>> 0) * 0x200000 + ((h2 >>> 0) & 0x1fffff);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Takes validated faces from a source and records every rejection with its reason, so that nothing is
 * dropped silently. Exact duplicates across splits would leak test data into training: the first one seen is
 * kept and later copies in another split are rejected. Duplicates inside one split are kept (FER2013 has them;
 * they do no harm to evaluation).
 */
export class SampleCollector {
  private readonly buffers: Record<Split, SplitBuffer> = { train: new SplitBuffer(), val: new SplitBuffer(), test: new SplitBuffer() };
  private readonly seen = new Map<number, { split: Split; index: number; where: string }[]>();
  private readonly byReason: Record<string, number> = {};
  private readonly rows: RejectedRow[] = [];
  private rejectedTotal = 0;
  private acceptedTotal = 0;

  /**
   * Sizes the train buffer for about `faces` faces when the source can estimate its size (a CSV from its
   * byte count): most faces are train, val/test grow as needed.
   */
  reserve(faces: number): void {
    this.buffers.train.reserve(Math.min(faces, 150_000)); // cap: a wrong estimate must not allocate gigabytes
  }

  /** Adds one face; returns false when it was rejected as a cross-split duplicate. */
  add(split: Split, label: number, pixels: Uint8Array, where: string): boolean {
    if (pixels.length !== FACE_BYTES) {
      this.reject(where, 'wrong_pixel_count');
      return false;
    }
    if (!Number.isInteger(label) || label < 0 || label >= NUM_CLASSES) {
      this.reject(where, 'label_out_of_range');
      return false;
    }
    const h = faceHash(pixels);
    const bucket = this.seen.get(h);
    if (bucket) {
      for (const prior of bucket) {
        if (prior.split !== split && sameBytes(this.buffers[prior.split].face(prior.index), pixels)) {
          this.reject(where, 'duplicate_across_splits', `same pixels as ${prior.where} (${prior.split})`);
          return false;
        }
      }
    }
    const index = this.buffers[split].push(pixels, label);
    const entry = { split, index, where };
    if (bucket) bucket.push(entry);
    else this.seen.set(h, [entry]);
    this.acceptedTotal++;
    return true;
  }

  reject(where: string, reason: RejectReason, detail?: string): void {
    this.rejectedTotal++;
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
    if (this.rows.length < MAX_LISTED_REJECTS) this.rows.push({ where, reason: detail ? `${reason}: ${detail}` : reason });
  }

  get accepted(): number {
    return this.acceptedTotal;
  }

  get rejected(): number {
    return this.rejectedTotal;
  }

  finish(): Collected {
    const splits = {} as Record<Split, CollectedSplit>;
    for (const s of SPLITS) splits[s] = this.buffers[s].done();
    return {
      splits,
      rejected: { total: this.rejectedTotal, byReason: { ...this.byReason }, rows: [...this.rows] },
      accepted: this.acceptedTotal,
    };
  }
}
