import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { MODEL_INPUT_NAME, MODEL_OUTPUT_NAME } from '../../../lib/preprocess';
import type { SessionReply } from './session-thread';

/** An onnxruntime session on its own worker thread (session-thread.ts); run() resolves with the output tensor's data. */
export class SessionWorker {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: { data: Float32Array; dims: readonly number[] }) => void; reject: (e: Error) => void }>();
  private dead: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (msg: SessionReply) => {
      const job = this.pending.get(msg.id);
      if (!job) return;
      this.pending.delete(msg.id);
      if (msg.error) job.reject(new Error(msg.error));
      else job.resolve({ data: msg.data!, dims: msg.dims! });
    });
    const fail = (err: Error) => {
      this.dead = err;
      for (const job of this.pending.values()) job.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`inference thread exited (${code})`)));
  }

  static open(bytes: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<SessionWorker> {
    const worker = new Worker(join(__dirname, 'session-thread.ts'), {
      workerData: { bytes, options, input: MODEL_INPUT_NAME, output: MODEL_OUTPUT_NAME },
      execArgv: ['--require', 'tsx/cjs'],
    });
    return new Promise((resolve, reject) => {
      const onFirst = (msg: SessionReply) => {
        if (msg.id !== -1) return;
        worker.off('message', onFirst);
        if (msg.error) {
          void worker.terminate();
          reject(new Error(msg.error));
        } else resolve(new SessionWorker(worker));
      };
      worker.on('message', onFirst);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`inference thread exited (${code}) before its session was ready`)));
    });
  }

  /** True once the thread has exited or crashed; its runs fail and the owner opens a new one. */
  get isDead(): boolean {
    return this.dead !== undefined;
  }

  run(pixels: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, pixels, dims });
    });
  }

  async release(): Promise<void> {
    if (this.dead) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ id: this.nextId++, release: true });
    await exited;
  }
}
