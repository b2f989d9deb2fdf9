import { FACE_PIXELS } from '../../../lib/preprocess';

/**
 * Micro-batching: one onnxruntime call on B faces costs much less than B calls on one face, because per-call
 * overhead and thread hand-off dominate for small models. Work-conserving: when no run is in flight, the
 * queue is flushed on the next turn of the event loop (requests that arrived together still share a run, and
 * a lone request never sits idle); while a run is in flight, arrivals queue up and go together when it ends,
 * or after `waitMs` at most, or as soon as `maxBatch` faces are queued. A fixed wait cost every request at
 * concurrency 1 its full `waitMs`, a large part of a crop request, for nothing
 * (docs/inference.md#design-measurements-moved-from-code-comments).
 */
export type RunBatch = (pixels: Float32Array, batch: number) => Promise<Float32Array[]>;

interface Pending {
  pixels: Float32Array;
  count: number;
  resolve: (rows: Float32Array[]) => void;
  reject: (err: unknown) => void;
}

export class Batcher {
  private queue: Pending[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private running = 0;

  constructor(
    private readonly run: RunBatch,
    private readonly maxBatch: number,
    private readonly waitMs: number,
  ) {}

  /** Classifies `count` faces packed in `pixels`; resolves with one logits row per face. */
  infer(pixels: Float32Array, count: number): Promise<Float32Array[]> {
    if (count === 0) return Promise.resolve([]);
    if (count >= this.maxBatch) return this.run(pixels, count); // already a full batch: no reason to wait
    return new Promise((resolve, reject) => {
      if (this.queued + count > this.maxBatch) this.flush();
      this.queue.push({ pixels, count, resolve, reject });
      this.queued += count;
      if (this.queued >= this.maxBatch) this.flush();
      else if (this.running === 0) this.immediate ??= setImmediate(() => this.flush());
      else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.waitMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    const items = this.queue;
    const total = this.queued;
    this.queue = [];
    this.queued = 0;
    if (items.length === 0) return;
    const packed = new Float32Array(total * FACE_PIXELS);
    let offset = 0;
    for (const item of items) {
      packed.set(item.pixels, offset * FACE_PIXELS);
      offset += item.count;
    }
    this.running++;
    const done = () => {
      this.running--;
      // What queued up behind this run goes now rather than waiting out its timer.
      if (this.running === 0 && this.queue.length > 0) this.flush();
    };
    this.run(packed, total).then(
      (rows) => {
        done();
        let at = 0;
        for (const item of items) {
          item.resolve(rows.slice(at, at + item.count));
          at += item.count;
        }
      },
      (err) => {
        done();
        if (items.length === 1) return items[0].reject(err);
        // One request's input can make the whole batch fail; rerun each alone so only the culprit fails.
        for (const item of items) this.run(item.pixels, item.count).then(item.resolve, item.reject);
      },
    );
  }
}
