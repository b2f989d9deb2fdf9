import { addFace, type CropStats, type DriftFeatures, emptyFeatures } from '../../../lib/drift';
import { LABELS } from '../../../lib/labels';

/**
 * Per-request records for canary analysis, kept in fixed-size ring buffers so memory stays bounded whatever the
 * traffic; queries scan the ring and keep the records inside the time window. Queries are rare (canary analysis
 * polls), records are per request: storage is laid out for the writer.
 */
export interface RequestRecord {
  t: number;
  slot: string;
  version: string;
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
  compared: number;
  agreed: number;
  /** Shadow runs that failed (the client never sees them; canary analysis must). */
  errors: number;
  /** Class index per compared face, from each model: the window's chance agreement is computed from them. */
  stableClasses: number[];
  canaryClasses: number[];
}

export interface ShadowStats {
  compared: number;
  agreement: number | null;
  /** Agreement two models with these class distributions would reach by chance (Cohen's p_e). */
  chanceAgreement: number | null;
  errors: number;
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

/**
 * The request records, column by column in typed arrays. Why not an array of objects: each record (with its
 * class and crop arrays, ~300 bytes) lived for `capacity` requests, so 20,000 of them were always part of the
 * old generation that every full collection marks. Under crop load at concurrency 8 the live heap after a
 * mark-compact went from 27-29 MB to 20.5 MB with columns, and nothing is left behind per request.
 */
class RequestColumns {
  written = 0;
  facesWritten = 0;
  readonly t: Float64Array;
  readonly owner: Uint32Array;
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

  /** Indices of the kept records of `owner` at or after `from`. */
  *requests(owner: number, from: number): Iterable<number> {
    for (let i = 0; i < Math.min(this.written, this.capacity); i++) if (this.owner[i] === owner && this.t[i] >= from) yield i;
  }

  /** Indices of the faces of successful requests of `owner` at or after `from` whose record is still kept. */
  *okFaces(owner: number, from: number): Iterable<number> {
    const oldestKept = this.written - this.capacity;
    for (let j = 0; j < Math.min(this.facesWritten, this.faceSeq.length); j++) {
      const seq = this.faceSeq[j];
      const i = seq % this.capacity;
      if (seq >= oldestKept && this.owner[i] === owner && this.ok[i] && this.t[i] >= from) yield j;
    }
  }
}

export interface SlotStats {
  version: string | null;
  requests: number;
  errors: number;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  classCounts: Record<string, number>;
  meanConfidence: number | null;
  faces: number;
  noFaceRate: number | null;
}

/** Live input statistics of one slot, binned with lib/drift so they compare against a training baseline. */
export interface SlotDrift {
  version: string | null;
  requests: number;
  faces: number;
  /** Share of successful requests in which at least one face was found. */
  faceDetectionRate: number | null;
  meanConfidence: number | null;
  features: DriftFeatures;
}

export class StatsRing {
  private readonly requests: RequestColumns;
  private readonly shadows: Ring<ShadowRecord>;
  /** Slot and version pairs as small numbers, for the owner column (a handful per process: one per model loaded). */
  private readonly owners = new Map<string, number>();

  constructor(capacity: number, private readonly now = () => Date.now()) {
    this.requests = new RequestColumns(capacity);
    this.shadows = new Ring(capacity);
  }

  record(r: Omit<RequestRecord, 't'>): void {
    const key = ownerKey(r.slot, r.version);
    let owner = this.owners.get(key);
    if (owner === undefined) this.owners.set(key, (owner = this.owners.size + 1));
    this.requests.push(this.now(), owner, r);
  }

  /** One shadow comparison (the classes each model gave the same faces) or a failed shadow run; returns how many agreed. */
  recordShadow(classes: { stable: number[]; canary: number[] } | 'failed'): number {
    if (classes === 'failed') {
      this.shadows.push({ t: this.now(), compared: 0, agreed: 0, errors: 1, stableClasses: [], canaryClasses: [] });
      return 0;
    }
    const agreed = classes.stable.filter((c, i) => c === classes.canary[i]).length;
    this.shadows.push({ t: this.now(), compared: classes.stable.length, agreed, errors: 0, stableClasses: classes.stable, canaryClasses: classes.canary });
    return agreed;
  }

  /** Statistics of `slot` while it served `version` (records of a previous occupant are not mixed in). */
  slot(slot: string, version: string | null, windowSeconds: number): SlotStats {
    const from = this.now() - windowSeconds * 1000;
    const owner = version === null ? undefined : this.owners.get(ownerKey(slot, version));
    const cols = this.requests;
    const latencies: number[] = [];
    const classCounts = Object.fromEntries(LABELS.map((l) => [l, 0])) as Record<string, number>;
    let requests = 0;
    let errors = 0;
    let faces = 0;
    let noFace = 0;
    let okRequests = 0;
    let confidenceSum = 0;
    if (owner !== undefined) {
      for (const i of cols.requests(owner, from)) {
        requests++;
        latencies.push(cols.latencyMs[i]);
        if (!cols.ok[i]) {
          errors++;
          continue;
        }
        okRequests++;
        faces += cols.faces[i];
        if (cols.faces[i] === 0) noFace++;
        confidenceSum += cols.confidenceSum[i];
      }
      for (const j of cols.okFaces(owner, from)) classCounts[LABELS[cols.faceClass[j]]]++;
    }
    latencies.sort((a, b) => a - b);
    return {
      version,
      requests,
      errors,
      latencyMs: { p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95), p99: quantile(latencies, 0.99) },
      classCounts,
      meanConfidence: faces ? round(confidenceSum / faces) : null,
      faces,
      noFaceRate: okRequests ? round(noFace / okRequests) : null,
    };
  }

  /** Drift histograms of `slot` while it served `version`: predicted classes, crop brightness and contrast. */
  drift(slot: string, version: string | null, windowSeconds: number): SlotDrift {
    const from = this.now() - windowSeconds * 1000;
    const owner = version === null ? undefined : this.owners.get(ownerKey(slot, version));
    const cols = this.requests;
    const features = emptyFeatures();
    let requests = 0;
    let withFace = 0;
    let faces = 0;
    let confidenceSum = 0;
    if (owner !== undefined) {
      for (const i of cols.requests(owner, from)) {
        if (!cols.ok[i]) continue;
        requests++;
        if (cols.faces[i] > 0) withFace++;
        faces += cols.faces[i];
        confidenceSum += cols.confidenceSum[i];
      }
      for (const j of cols.okFaces(owner, from)) {
        if (!Number.isNaN(cols.brightness[j])) addFace(features, cols.faceClass[j], { brightness: cols.brightness[j], contrast: cols.contrast[j] });
      }
    }
    return {
      version,
      requests,
      faces,
      faceDetectionRate: requests ? round(withFace / requests) : null,
      meanConfidence: faces ? round(confidenceSum / faces) : null,
      features,
    };
  }

  shadow(windowSeconds: number): ShadowStats {
    const from = this.now() - windowSeconds * 1000;
    let compared = 0;
    let agreed = 0;
    let errors = 0;
    const stable = new Array<number>(LABELS.length).fill(0);
    const canary = new Array<number>(LABELS.length).fill(0);
    for (const s of this.shadows.since(from)) {
      compared += s.compared;
      agreed += s.agreed;
      errors += s.errors;
      for (const c of s.stableClasses) stable[c]++;
      for (const c of s.canaryClasses) canary[c]++;
    }
    const chance = stable.reduce((sum, n, c) => sum + n * canary[c], 0) / (compared * compared);
    return { compared, agreement: compared ? round(agreed / compared) : null, chanceAgreement: compared ? round(chance) : null, errors };
  }
}

/** Nearest-rank quantile of sorted values. */
function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]);
}

const ownerKey = (slot: string, version: string) => `${slot}\n${version}`;
const round = (x: number) => Math.round(x * 1000) / 1000;
