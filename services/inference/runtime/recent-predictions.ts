/**
 * The answers the service gave recently, so that feedback (`POST /v1/feedback`) joins the label a client sends
 * to what was actually served: model version and predicted class per face. A Map keeps insertion order, so
 * the oldest entry is evicted first when full, and expired entries are dropped from the front as they age.
 */
export interface RecentPrediction {
  t: number;
  modelVersion: string;
  slot: string;
  /** Predicted class index per face. */
  classes: number[];
  /**
   * The 48x48 crops the model saw, only when FEROPS_KEEP_CROPS is on: those of the first faces, as many as fit
   * the per-answer byte cap; dropped when the answer is among the oldest and all crops pass the total cap.
   */
  crops?: Uint8Array[];
  /**
   * Face indices already labelled: one label per face, so a retry cannot count twice. Created with the first
   * label: an answer is kept for ~10,000 requests, and a Set for each one was garbage for the old generation.
   */
  labelled?: Set<number>;
}

/** Bytes of crops kept: per answer (an image with many faces) and over all answers. Unlimited by default. */
export interface CropLimits {
  perPrediction: number;
  total: number;
}

export class RecentPredictions {
  private readonly entries = new Map<string, RecentPrediction>();
  /** The entries that hold crops, oldest first, so the total cap drops crops without scanning the rest. */
  private readonly withCrops = new Map<string, RecentPrediction>();
  /** Bytes of crops held, over all entries. */
  cropBytes = 0;

  constructor(
    private readonly capacity: number,
    private readonly ttlMs: number,
    private readonly now = () => Date.now(),
    private readonly cropLimits: CropLimits = { perPrediction: Infinity, total: Infinity },
  ) {}

  remember(requestId: string, p: Omit<RecentPrediction, 't' | 'labelled'>): void {
    this.forget(requestId);
    const entry: RecentPrediction = { ...p, t: this.now() };
    if (entry.crops) {
      const kept = within(entry.crops, this.cropLimits.perPrediction);
      entry.crops = kept.length > 0 ? kept : undefined;
    }
    this.entries.set(requestId, entry);
    if (entry.crops) {
      this.withCrops.set(requestId, entry);
      this.cropBytes += bytesOf(entry.crops);
    }
    this.expire();
    while (this.entries.size > this.capacity) this.forget(this.entries.keys().next().value!);
    while (this.cropBytes > this.cropLimits.total) {
      const [id, e] = this.withCrops.entries().next().value!;
      this.dropCrops(id, e);
    }
  }

  /** The remembered answer, or undefined when it was never given, was evicted, or is older than the TTL. */
  get(requestId: string): RecentPrediction | undefined {
    this.expire();
    return this.entries.get(requestId);
  }

  get size(): number {
    return this.entries.size;
  }

  private expire(): void {
    const oldest = this.now() - this.ttlMs;
    for (const [id, e] of this.entries) {
      if (e.t >= oldest) break;
      this.forget(id);
    }
  }

  private forget(requestId: string): void {
    const e = this.entries.get(requestId);
    if (!e) return;
    this.dropCrops(requestId, e);
    this.entries.delete(requestId);
  }

  private dropCrops(requestId: string, e: RecentPrediction): void {
    if (!e.crops) return;
    this.cropBytes -= bytesOf(e.crops);
    e.crops = undefined;
    this.withCrops.delete(requestId);
  }
}

const bytesOf = (crops: Uint8Array[]) => crops.reduce((n, c) => n + c.byteLength, 0);

/** The leading crops whose bytes fit `maxBytes`: faces past it can still be labelled, without a crop. */
function within(crops: Uint8Array[], maxBytes: number): Uint8Array[] {
  let bytes = 0;
  let n = 0;
  while (n < crops.length && bytes + crops[n].byteLength <= maxBytes) bytes += crops[n++].byteLength;
  return n === crops.length ? crops : crops.slice(0, n);
}
