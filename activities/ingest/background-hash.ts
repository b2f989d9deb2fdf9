import { Worker } from 'node:worker_threads';

// Plain CommonJS so it runs with `eval: true` without tsx in the worker.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const hash = require('node:crypto').createHash('sha256');
parentPort.on('message', (m) => {
  if (m === null) parentPort.postMessage({ digest: hash.digest('hex') });
  else { hash.update(m); parentPort.postMessage({ ack: true }); }
});
`;
const MAX_IN_FLIGHT = 8; // chunks queued in the worker; bounds memory when hashing is slower than parsing

/**
 * sha256 of a byte stream computed on another thread while this one parses the same bytes: the file is read once
 * and the checksum runs on a second core instead of adding a second pass over the file to the ingest.
 */
export class BackgroundHasher {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true });
  private inFlight = 0;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private finish: ((digest: string) => void) | undefined;

  constructor() {
    this.worker.on('message', (m: { ack?: true; digest?: string }) => {
      if (m.ack) {
        this.inFlight--;
        this.wake?.();
      } else if (m.digest !== undefined) {
        this.finish?.(m.digest);
      }
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      this.wake?.();
    });
  }

  /** Queues a copy of `chunk` (the caller may reuse its buffer); waits while too many are queued. */
  async update(chunk: Uint8Array): Promise<void> {
    while (this.inFlight >= MAX_IN_FLIGHT && !this.failure) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.failure) throw this.failure;
    const copy = new Uint8Array(chunk); // a real copy: Buffer#slice would share (and then detach) the caller's memory
    this.inFlight++;
    this.worker.postMessage(copy, [copy.buffer]);
  }

  async digest(): Promise<string> {
    if (this.failure) throw this.failure;
    const done = new Promise<string>((resolve) => (this.finish = resolve));
    this.worker.postMessage(null);
    try {
      return await done;
    } finally {
      await this.worker.terminate();
    }
  }

  /** Stops the worker without a digest (error or cancellation paths). */
  async dispose(): Promise<void> {
    await this.worker.terminate();
  }
}
