import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { FACE_SIZE, NUM_CLASSES } from '../../../lib/labels';
import { checkedLogits, classify, openClassifierSession, ortSessionOptions } from '../../../lib/onnx/classifier-session';
import { readModelFile, readModelLabels } from '../../../lib/onnx/model-dir';
import { firstLine, invalidModel, ModelArtifactError } from '../../../lib/onnx/model-error';
import { AppError } from '../errors';
import { Batcher } from './batcher';
import { SessionWorker } from './session-worker';

/**
 * One loaded model: onnxruntime sessions behind a micro-batcher, plus a reference count so that a hot swap can
 * release them only after every request that started with the model has finished.
 *
 * Where batches run: onnxruntime-node runs a session synchronously on the calling thread, so on the HTTP thread a
 * batch blocks everything else the service does, health checks included, for as long as it runs (long, for a large
 * model). Batches therefore run on an inference thread (`SessionWorker`), which also lets HTTP work and inference
 * overlap. The hop itself slows a small model's lone requests noticeably, so a model classifying a face in
 * under 2 ms (SMALL_MODEL_MS) keeps a session on the HTTP thread too and runs a lone face there. Only a lone face
 * (INLINE_MAX_BATCH): with larger batches inline, concurrent requests moved in waves (parse all, run all, answer
 * all, wait for the client), nothing overlapped and the HTTP thread sat idle; on the inference thread a batch runs
 * while the HTTP thread parses and answers. (docs/inference.md#design-measurements-moved-from-code-comments)
 */
export interface ModelInfo {
  version: string;
  source: string;
  dir: string;
  file: string;
  checksum: string;
  loadedAt: string;
}

export interface SessionOptions {
  threads: number;
  batchMax: number;
  batchWaitMs: number;
  variant: 'fp32' | 'int8';
  /** Told the size of every batch run (the service's batch-size histogram: whether batching happens at all). */
  onBatch?: (faces: number) => void;
}

/** Batches below this many faces run on the HTTP thread for a small model (see LoadedModel). */
export const INLINE_MAX_BATCH = 2;

export class LoadedModel {
  private refs = 0;
  private retired = false;
  private released = false;
  private readonly batcher: Batcher;
  private worker: Promise<SessionWorker>;
  private markReleased!: () => void;
  /** Resolves once the model is retired, unused and both its sessions are freed. */
  readonly whenReleased = new Promise<void>((resolve) => (this.markReleased = resolve));

  constructor(
    readonly info: ModelInfo,
    readonly labels: readonly string[],
    /** A session on the HTTP thread, kept only for a small model; undefined otherwise. */
    private readonly inline: ort.InferenceSession | undefined,
    worker: SessionWorker,
    private readonly threads: number,
    private readonly opts: SessionOptions,
  ) {
    this.worker = Promise.resolve(worker);
    this.batcher = new Batcher((pixels, batch) => this.run(pixels, batch), opts.batchMax, opts.batchWaitMs);
  }

  /** Logits rows, one per face; faces packed (B, 1, 48, 48). */
  infer(pixels: Float32Array, count: number): Promise<Float32Array[]> {
    if (this.released) return Promise.reject(new Error(`model ${this.info.version} used after release`));
    return this.batcher.infer(pixels, count);
  }

  private async run(pixels: Float32Array, batch: number): Promise<Float32Array[]> {
    this.opts.onBatch?.(batch);
    const logits =
      this.inline && batch < INLINE_MAX_BATCH
        ? await classify(this.inline, pixels, batch)
        : checkedLogits(await (await this.liveWorker()).run(pixels, [batch, 1, FACE_SIZE, FACE_SIZE]), batch);
    return Array.from({ length: batch }, (_, i) => logits.slice(i * NUM_CLASSES, (i + 1) * NUM_CLASSES));
  }

  /** The inference thread, restarted from the model file if it died (its in-flight batches failed with it). */
  private async liveWorker(): Promise<SessionWorker> {
    const current = await this.worker;
    if (!current.isDead) return current;
    this.worker = readFile(this.info.file).then((bytes) => SessionWorker.open(bytes, ortSessionOptions(this.threads)));
    this.worker.catch(() => {
      this.worker = Promise.resolve(current); // keep the dead one: the next batch tries again
    });
    return this.worker;
  }

  acquire(): this {
    this.refs++;
    return this;
  }

  release(): void {
    this.refs--;
    this.maybeRelease();
  }

  /** No new requests will pick this model; its sessions go once the last one using it is done. */
  retire(): void {
    this.retired = true;
    this.maybeRelease();
  }

  get inFlight(): number {
    return this.refs;
  }

  get isReleased(): boolean {
    return this.released;
  }

  private maybeRelease(): void {
    if (!this.retired || this.refs > 0 || this.released) return;
    this.released = true;
    void Promise.all([this.inline?.release().catch(() => undefined), this.worker.then((w) => w.release()).catch(() => undefined)]).then(() =>
      this.markReleased(),
    );
  }
}

/**
 * Loads and validates a model directory (lib/onnx: labels, graph signature, warm-up) into a served model; anything
 * wrong is refused with 422 invalid_model so a bad model never reaches a slot.
 */
export async function loadModel(dir: string, meta: { version: string; source: string }, opts: SessionOptions): Promise<LoadedModel> {
  try {
    const labels = await readModelLabels(dir);
    const { file, bytes, checksum } = await readModelFile(dir, opts.variant, meta.source);
    const { session, threads, small } = await openClassifierSession(bytes, opts.threads, basename(file));
    let worker: SessionWorker;
    try {
      worker = await SessionWorker.open(bytes, ortSessionOptions(threads));
    } catch (err) {
      await session.release().catch(() => undefined);
      throw invalidModel(`warm-up run failed: ${firstLine(err)}`);
    }
    // A large model's HTTP-thread session was only for validation; a small one keeps it for small batches.
    if (!small) await session.release();
    const info: ModelInfo = { ...meta, dir, file, checksum, loadedAt: new Date().toISOString() };
    return new LoadedModel(info, labels, small ? session : undefined, worker, threads, opts);
  } catch (err) {
    throw err instanceof ModelArtifactError ? new AppError(422, err.code, err.message) : err;
  }
}
