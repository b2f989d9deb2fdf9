import { addFace, type CropStats, emptyFeatures } from '../../../lib/drift';
import { type SlotDrift, slotDrift } from '../../../lib/inference-admin/drift';
import { emptyClassCounts, emptySlotCounts, type ShadowStats, shadowStats, type SlotStats, slotStats } from '../../../lib/inference-admin/stats';
import { LABELS } from '../../../lib/labels';
import { addToSketch } from '../../../lib/latency-sketch';

/**
 * Per-request records for canary analysis, kept in fixed-size ring buffers so memory stays bounded whatever the
 * traffic; queries scan the ring and keep the records inside the time window. Queries are rare (canary analysis
 * polls), records are per request: storage is laid out for the writer.
 *
 * Each record carries the desired-state generation its request was routed under, and a query can count one
 * generation only: a fleet's window must never mix two deployment states (one canary weight with the next).
 */
export interface RequestRecord {
  t: number;
  slot: string;
  version: string;
  /** The generation the request was routed under; null for a standalone service. */
  generation: number | null;
  ok: boolean;
  latencyMs: number;
  /** Predicted class index per face. */
  classes: number[];
  confidenceSum: number;
  /** Brightness and contrast per face crop, for drift statistics. */
  crops?: CropStats[];
}

export interface ShadowRecord {
  t: number;
  generation: number | null;
  compared: number;
  agreed: number;
  /** Shadow runs that failed (the client never sees them; canary analysis must). */
  errors: number;
  /** Class index per compared face, from each model: the window's chance agreement is computed from them. */
  stableClasses: number[];
  canaryClasses: number[];
}

class Ring<T extends { t: number }> {
  private items: (T | undefined)[];
  private next = 0;
  constructor(readonly capacity: number) {
    this.items = new Array(capacity);
  }
  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
  }
  *since(t: number): Iterable<T> {
    for (const item of this.items) if (item && item.t >= t) yield item;
  }
}

/** Faces kept per request of capacity: photos average well under this, so faces outlive their request's record. */
const FACES_PER_REQUEST = 4;
/** A null generation in the generation column (generations are >= 0). */
const NO_GENERATION = -1;

/** A query's generation as the column holds it; undefined (count every generation) stays undefined. */
const generationCode = (g: number | null | undefined): number | undefined => (g === undefined ? undefined : g ?? NO_GENERATION);

/**
 * The request records, column by column in typed arrays. Why not an array of objects: each record (with its
 * class and crop arrays) lived for `capacity` requests, so all of them were always part of the old generation
 * that every full collection marks. Columns shrink the live heap, and nothing is left behind per request
 * (docs/inference.md#crops-on-a-plain-nodehttp-predict-path-2026-11-27-1755-1915-utc, change 2).
 */
class RequestColumns {
  written = 0;
  facesWritten = 0;
  readonly t: Float64Array;
  readonly owner: Uint32Array;
  /** Float64 rather than Int32: generations only grow, and this never wraps. */
  readonly generation: Float64Array;
  readonly ok: Uint8Array;
  readonly latencyMs: Float64Array;
  readonly confidenceSum: Float64Array;
  readonly faces: Uint32Array;
  /** Per face: the sequence number of its request (to find its record), class, crop brightness and contrast. */
  readonly faceSeq: Float64Array;
  readonly faceClass: Uint8Array;
  readonly brightness: Float64Array;
  readonly contrast: Float64Array;

  constructor(readonly capacity: number) {
    this.t = new Float64Array(capacity);
    this.owner = new Uint32Array(capacity);
    this.generation = new Float64Array(capacity);
    this.ok = new Uint8Array(capacity);
    this.latencyMs = new Float64Array(capacity);
    this.confidenceSum = new Float64Array(capacity);
    this.faces = new Uint32Array(capacity);
    const faceCapacity = capacity * FACES_PER_REQUEST;
    this.faceSeq = new Float64Array(faceCapacity);
    this.faceClass = new Uint8Array(faceCapacity);
    this.brightness = new Float64Array(faceCapacity);
    this.contrast = new Float64Array(faceCapacity);
  }

  push(t: number, owner: number, r: Omit<RequestRecord, 't' | 'slot' | 'version'>): void {
    const seq = this.written++;
    const i = seq % this.capacity;
    this.t[i] = t;
    this.owner[i] = owner;
    this.generation[i] = r.generation ?? NO_GENERATION;
    this.ok[i] = r.ok ? 1 : 0;
    this.latencyMs[i] = r.latencyMs;
    this.confidenceSum[i] = r.confidenceSum;
    this.faces[i] = r.classes.length;
    r.classes.forEach((c, k) => {
      const j = this.facesWritten++ % this.faceSeq.length;
      this.faceSeq[j] = seq;
      this.faceClass[j] = c;
      this.brightness[j] = r.crops?.[k]?.brightness ?? Number.NaN;
      this.contrast[j] = r.crops?.[k]?.contrast ?? Number.NaN;
    });
  }

  /** Whether kept record `i` is in the window (at or after `from`) and of the generation `g` (generationCode). */
  private counts(i: number, from: number, g: number | undefined): boolean {
    return this.t[i] >= from && (g === undefined || this.generation[i] === g);
  }

  /** Indices of the kept records of `owner` in the window and generation. */
  *requests(owner: number, from: number, g: number | undefined): Iterable<number> {
    for (let i = 0; i < Math.min(this.written, this.capacity); i++) if (this.owner[i] === owner && this.counts(i, from, g)) yield i;
  }

  /** Indices of the faces of successful requests of `owner` in the window and generation whose record is still kept. */
  *okFaces(owner: number, from: number, g: number | undefined): Iterable<number> {
    const oldestKept = this.written - this.capacity;
    for (let j = 0; j < Math.min(this.facesWritten, this.faceSeq.length); j++) {
      const seq = this.faceSeq[j];
      const i = seq % this.capacity;
      if (seq >= oldestKept && this.owner[i] === owner && this.ok[i] && this.counts(i, from, g)) yield j;
    }
  }

  /** The owner of the newest kept record in the window and generation that `accept` takes, if any. */
  newestOwner(from: number, g: number | undefined, accept: (owner: number) => boolean): number | undefined {
    for (let seq = this.written - 1; seq >= Math.max(0, this.written - this.capacity); seq--) {
      const i = seq % this.capacity;
      if (this.counts(i, from, g) && accept(this.owner[i])) return this.owner[i];
    }
    return undefined;
  }
}

export class StatsRing {
  private readonly requests: RequestColumns;
  private readonly shadows: Ring<ShadowRecord>;
  /** Slot and version pairs as small numbers, for the owner column (a handful per process: one per model loaded). */
  private readonly owners = new Map<string, number>();
  /** The same pairs by owner number (index owner - 1). */
  private readonly ownerNames: { slot: string; version: string }[] = [];

  constructor(capacity: number, private readonly now = () => Date.now()) {
    this.requests = new RequestColumns(capacity);
    this.shadows = new Ring(capacity);
  }

  record(r: Omit<RequestRecord, 't'>): void {
    const key = ownerKey(r.slot, r.version);
    let owner = this.owners.get(key);
    if (owner === undefined) {
      this.owners.set(key, (owner = this.owners.size + 1));
      this.ownerNames.push({ slot: r.slot, version: r.version });
    }
    this.requests.push(this.now(), owner, r);
  }

  /** One shadow comparison (the classes each model gave the same faces) or a failed shadow run; returns how many agreed. */
  recordShadow(classes: { stable: number[]; canary: number[] } | 'failed', generation: number | null): number {
    if (classes === 'failed') {
      this.shadows.push({ t: this.now(), generation, compared: 0, agreed: 0, errors: 1, stableClasses: [], canaryClasses: [] });
      return 0;
    }
    const agreed = classes.stable.filter((c, i) => c === classes.canary[i]).length;
    this.shadows.push({ t: this.now(), generation, compared: classes.stable.length, agreed, errors: 0, stableClasses: classes.stable, canaryClasses: classes.canary });
    return agreed;
  }

  /**
   * The version `slot` served under `generation` in the window (its newest record's), or null without records: what
   * a query for a generation the service has moved on from reports, since the slot's occupant may have changed.
   */
  versionServed(slot: string, windowSeconds: number, generation: number | null): string | null {
    const from = this.now() - windowSeconds * 1000;
    const owner = this.requests.newestOwner(from, generationCode(generation), (o) => this.ownerNames[o - 1].slot === slot);
    return owner === undefined ? null : this.ownerNames[owner - 1].version;
  }

  /**
   * Statistics of `slot` while it served `version` (records of a previous occupant are not mixed in), counting only
   * the records of `generation` unless it is undefined. Latencies go into a sketch, which fleet merges can sum.
   */
  slot(slot: string, version: string | null, windowSeconds: number, generation?: number | null): SlotStats {
    const from = this.now() - windowSeconds * 1000;
    const g = generationCode(generation);
    const owner = version === null ? undefined : this.owners.get(ownerKey(slot, version));
    const cols = this.requests;
    const c = emptySlotCounts(version);
    if (owner !== undefined) {
      for (const i of cols.requests(owner, from, g)) {
        c.requests++;
        addToSketch(c.latency, cols.latencyMs[i]);
        if (!cols.ok[i]) {
          c.errors++;
          continue;
        }
        c.okRequests++;
        c.faces += cols.faces[i];
        if (cols.faces[i] === 0) c.noFaceRequests++;
        c.confidenceSum += cols.confidenceSum[i];
      }
      for (const j of cols.okFaces(owner, from, g)) c.classCounts[LABELS[cols.faceClass[j]]]++;
    }
    return slotStats(c);
  }

  /**
   * Drift histograms of `slot` while it served `version`, of `generation` only unless it is undefined: predicted
   * classes, crop brightness and contrast.
   */
  drift(slot: string, version: string | null, windowSeconds: number, generation?: number | null): SlotDrift {
    const from = this.now() - windowSeconds * 1000;
    const g = generationCode(generation);
    const owner = version === null ? undefined : this.owners.get(ownerKey(slot, version));
    const cols = this.requests;
    const features = emptyFeatures();
    let requests = 0;
    let requestsWithFace = 0;
    let faces = 0;
    let confidenceSum = 0;
    if (owner !== undefined) {
      for (const i of cols.requests(owner, from, g)) {
        if (!cols.ok[i]) continue;
        requests++;
        if (cols.faces[i] > 0) requestsWithFace++;
        faces += cols.faces[i];
        confidenceSum += cols.confidenceSum[i];
      }
      for (const j of cols.okFaces(owner, from, g)) {
        if (!Number.isNaN(cols.brightness[j])) addFace(features, cols.faceClass[j], { brightness: cols.brightness[j], contrast: cols.contrast[j] });
      }
    }
    return slotDrift({ version, requests, requestsWithFace, faces, confidenceSum, features });
  }

  /** Shadow comparisons in the window, of `generation` only unless it is undefined. */
  shadow(windowSeconds: number, generation?: number | null): ShadowStats {
    const from = this.now() - windowSeconds * 1000;
    const c = { compared: 0, agreed: 0, errors: 0, classCounts: { stable: emptyClassCounts(), canary: emptyClassCounts() } };
    for (const s of this.shadows.since(from)) {
      if (generation !== undefined && s.generation !== generation) continue;
      c.compared += s.compared;
      c.agreed += s.agreed;
      c.errors += s.errors;
      for (const k of s.stableClasses) c.classCounts.stable[LABELS[k]]++;
      for (const k of s.canaryClasses) c.classCounts.canary[LABELS[k]]++;
    }
    return shadowStats(c);
  }
}

const ownerKey = (slot: string, version: string) => `${slot}\n${version}`;
