import { addFace, type CropStats, type DriftFeatures, emptyFeatures } from '../../../lib/drift';
import { LABELS } from '../../../lib/labels';

/**
 * Per-request records for canary analysis, kept in fixed-size ring buffers so memory stays bounded whatever the
 * traffic; queries scan the ring and keep the records inside the time window.
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
  private readonly requests: Ring<RequestRecord>;
  private readonly shadows: Ring<ShadowRecord>;

  constructor(capacity: number, private readonly now = () => Date.now()) {
    this.requests = new Ring(capacity);
    this.shadows = new Ring(capacity);
  }

  record(r: Omit<RequestRecord, 't'>): void {
    this.requests.push({ ...r, t: this.now() });
  }

  recordShadow(compared: number, agreed: number, errors = 0): void {
    this.shadows.push({ t: this.now(), compared, agreed, errors });
  }

  /** Statistics of `slot` while it served `version` (records of a previous occupant are not mixed in). */
  slot(slot: string, version: string | null, windowSeconds: number): SlotStats {
    const from = this.now() - windowSeconds * 1000;
    const latencies: number[] = [];
    const classCounts = Object.fromEntries(LABELS.map((l) => [l, 0])) as Record<string, number>;
    let requests = 0;
    let errors = 0;
    let faces = 0;
    let noFace = 0;
    let okRequests = 0;
    let confidenceSum = 0;
    for (const r of this.requests.since(from)) {
      if (r.slot !== slot || r.version !== version) continue;
      requests++;
      latencies.push(r.latencyMs);
      if (!r.ok) {
        errors++;
        continue;
      }
      okRequests++;
      faces += r.classes.length;
      if (r.classes.length === 0) noFace++;
      confidenceSum += r.confidenceSum;
      for (const c of r.classes) classCounts[LABELS[c]]++;
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
    const features = emptyFeatures();
    let requests = 0;
    let withFace = 0;
    let faces = 0;
    let confidenceSum = 0;
    for (const r of this.requests.since(from)) {
      if (r.slot !== slot || r.version !== version || !r.ok) continue;
      requests++;
      if (r.classes.length > 0) withFace++;
      faces += r.classes.length;
      confidenceSum += r.confidenceSum;
      r.classes.forEach((c, i) => {
        const crop = r.crops?.[i];
        if (crop) addFace(features, c, crop);
      });
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

  shadow(windowSeconds: number): { compared: number; agreement: number | null; errors: number } {
    const from = this.now() - windowSeconds * 1000;
    let compared = 0;
    let agreed = 0;
    let errors = 0;
    for (const s of this.shadows.since(from)) {
      compared += s.compared;
      agreed += s.agreed;
      errors += s.errors;
    }
    return { compared, agreement: compared ? round(agreed / compared) : null, errors };
  }
}

/** Nearest-rank quantile of sorted values. */
function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]);
}

const round = (x: number) => Math.round(x * 1000) / 1000;
