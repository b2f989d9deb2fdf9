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
  /** The 48x48 crops the model saw, only when FEROPS_KEEP_CROPS is on. */
  crops?: Uint8Array[];
  /**
   * Face indices already labelled: one label per face, so a retry cannot count twice. Created with the first
   * label: an answer is kept for ~10,000 requests, and a Set for each one was garbage for the old generation.
   */
  labelled?: Set<number>;
}

export class RecentPredictions {
  private readonly entries = new Map<string, RecentPrediction>();

  constructor(
    private readonly capacity: number,
    private readonly ttlMs: number,
    private readonly now = () => Date.now(),
  ) {}

  remember(requestId: string, p: Omit<RecentPrediction, 't' | 'labelled'>): void {
    this.entries.delete(requestId);
    this.entries.set(requestId, { ...p, t: this.now() });
    this.expire();
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
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
      this.entries.delete(id);
    }
  }
}
