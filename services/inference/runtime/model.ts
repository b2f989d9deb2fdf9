import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { LABELS, NUM_CLASSES } from '../../../lib/labels';
import { FACE_SIZE } from '../../../lib/labels';
import { FACE_PIXELS, MODEL_INPUT_NAME, MODEL_OUTPUT_NAME } from '../../../lib/preprocess';
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
    opts: SessionOptions,
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
    const dims = [batch, 1, FACE_SIZE, FACE_SIZE];
    const logits =
      this.inline && batch < INLINE_MAX_BATCH
        ? (await this.inline.run({ [MODEL_INPUT_NAME]: new ort.Tensor('float32', pixels, dims) }))[MODEL_OUTPUT_NAME]
        : await (await this.liveWorker()).run(pixels, dims);
    if (!logits || logits.dims.length !== 2 || logits.dims[0] !== batch || logits.dims[1] !== NUM_CLASSES) {
      throw new Error(`model returned logits of shape [${logits?.dims.join(', ')}], expected [${batch}, ${NUM_CLASSES}]`);
    }
    const data = logits.data as Float32Array;
    return Array.from({ length: batch }, (_, i) => data.slice(i * NUM_CLASSES, (i + 1) * NUM_CLASSES));
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
 * The onnxruntime options of every served session (the HTTP bench uses them too, to separate the cost of the
 * HTTP path from that of thread settings). One request batch runs at a time per session, so inter-op
 * parallelism buys nothing; intra-op threads are left to onnxruntime (all cores) unless `threads` > 0.
 */
export function ortSessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return {
    ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // Run failures reach the client and our log as errors already; onnxruntime's own stderr copy is noise.
    logSeverityLevel: 4,
  };
}

const refuse = (message: string) => new AppError(422, 'invalid_model', message);

/**
 * Loads and validates a model directory: labels.json has the 7 labels in order, the graph has input `pixels`
 * (B,1,48,48) and output `logits` (B,7), and a warm-up run on batches of 1 and 2 returns finite logits.
 * Anything else is refused with 422 so a bad model never reaches a slot.
 */
export async function loadModel(dir: string, meta: { version: string; source: string }, opts: SessionOptions): Promise<LoadedModel> {
  const labels = await readLabels(dir);
  const preferred = opts.variant === 'int8' ? 'model.int8.onnx' : 'model.onnx';
  const file = join(dir, preferred);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    if (opts.variant === 'int8' && existsSync(join(dir, 'model.onnx'))) {
      // The trainer withholds an int8 file that does not agree with fp32 well enough (the run's ferops.int8 tags).
      throw refuse(`${meta.source} has no int8 variant (its export withheld model.int8.onnx); serve it with FEROPS_MODEL_VARIANT=fp32`);
    }
    throw refuse(`${preferred} not found in ${meta.source}`);
  }
  const checksum = createHash('sha256').update(bytes).digest('hex');
  let session: ort.InferenceSession;
  let threads: number;
  let small: boolean;
  let worker: SessionWorker;
  try {
    session = await ort.InferenceSession.create(bytes, ortSessionOptions(opts.threads));
  } catch (err) {
    throw refuse(`${preferred} is not a loadable ONNX model: ${firstLine(err)}`);
  }
  try {
    checkSignature(session);
    await warmUp(session);
    small = (await singleFaceMs(session)) < SMALL_MODEL_MS;
    threads = threadsFor(small, opts.threads);
    if (threads !== opts.threads) {
      const single = await ort.InferenceSession.create(bytes, ortSessionOptions(threads));
      await session.release();
      session = single;
      await warmUp(session);
    }
    worker = await SessionWorker.open(bytes, ortSessionOptions(threads));
  } catch (err) {
    await session.release().catch(() => undefined);
    throw err instanceof AppError ? err : refuse(`warm-up run failed: ${firstLine(err)}`);
  }
  // A large model's HTTP-thread session was only for validation; a small one keeps it for small batches.
  if (!small) await session.release();
  const info: ModelInfo = { ...meta, dir, file, checksum, loadedAt: new Date().toISOString() };
  return new LoadedModel(info, labels, small ? session : undefined, worker, threads, opts);
}

async function readLabels(dir: string): Promise<string[]> {
  let raw: string;
  try {
    raw = await readFile(join(dir, 'labels.json'), 'utf8');
  } catch {
    throw refuse('labels.json is missing from the model directory');
  }
  let labels: unknown;
  try {
    labels = JSON.parse(raw);
  } catch {
    throw refuse('labels.json is not valid JSON');
  }
  if (!Array.isArray(labels) || labels.length !== NUM_CLASSES || labels.some((l, i) => l !== LABELS[i])) {
    throw refuse(`labels.json must be ${JSON.stringify(LABELS)}, got ${JSON.stringify(labels).slice(0, 200)}`);
  }
  return labels as string[];
}

function checkSignature(session: ort.InferenceSession): void {
  if (!session.inputNames.includes(MODEL_INPUT_NAME) || session.inputNames.length !== 1) {
    throw refuse(`model inputs are [${session.inputNames.join(', ')}], expected exactly [${MODEL_INPUT_NAME}]`);
  }
  if (!session.outputNames.includes(MODEL_OUTPUT_NAME)) {
    throw refuse(`model outputs are [${session.outputNames.join(', ')}], expected ${MODEL_OUTPUT_NAME}`);
  }
  const input = session.inputMetadata.find((m) => m.name === MODEL_INPUT_NAME);
  if (input?.isTensor) {
    const [, ch, h, w] = input.shape;
    if (input.type !== 'float32' || input.shape.length !== 4 || ch !== 1 || h !== FACE_SIZE || w !== FACE_SIZE) {
      throw refuse(`input ${MODEL_INPUT_NAME} is ${input.type} [${input.shape.join(', ')}], expected float32 [B, 1, ${FACE_SIZE}, ${FACE_SIZE}]`);
    }
  }
  const output = session.outputMetadata.find((m) => m.name === MODEL_OUTPUT_NAME);
  if (output?.isTensor && (output.shape.length !== 2 || (typeof output.shape[1] === 'number' && output.shape[1] !== NUM_CLASSES))) {
    throw refuse(`output ${MODEL_OUTPUT_NAME} is [${output.shape.join(', ')}], expected [B, ${NUM_CLASSES}]`);
  }
}

/**
 * With FEROPS_ORT_THREADS=0 (automatic), a model that classifies one face faster than this runs on one intra-op
 * thread: for so little work, handing it to a second thread and waking it costs more than it saves, and it
 * competes with the HTTP path for the cores: the demo model gained crop throughput and a shorter p99 this way. A
 * large model (ViT-B/16) keeps every thread, which it needs (bench/inference-http.ts;
 * docs/inference.md#design-measurements-moved-from-code-comments).
 */
const SMALL_MODEL_MS = 2;

/** The intra-op threads to serve with: `threads` when set, else 1 for a small model (measured on `session`), else 0. */
export async function servingThreads(session: ort.InferenceSession, threads: number): Promise<number> {
  return threadsFor((await singleFaceMs(session)) < SMALL_MODEL_MS, threads);
}

const threadsFor = (small: boolean, threads: number): number => (threads > 0 || availableParallelism() < 2 ? threads : small ? 1 : 0);

/**
 * The fastest of 5 single-face runs after one untimed run: the model's own cost. A busy host only adds to each run
 * (a median misread a microsecond model as a 2 ms one on a loaded CI runner), and the sizes this tells apart are
 * orders of magnitude apart.
 */
async function singleFaceMs(session: ort.InferenceSession): Promise<number> {
  const input = new ort.Tensor('float32', new Float32Array(FACE_PIXELS).fill(0.5), [1, 1, FACE_SIZE, FACE_SIZE]);
  await session.run({ [MODEL_INPUT_NAME]: input });
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await session.run({ [MODEL_INPUT_NAME]: input });
    fastest = Math.min(fastest, performance.now() - t0);
  }
  return fastest;
}

/** Two runs (B=1 and B=2) check the dynamic batch and pay the first-run allocation cost before traffic. */
async function warmUp(session: ort.InferenceSession): Promise<void> {
  for (const batch of [1, 2]) {
    const input = new ort.Tensor('float32', new Float32Array(batch * FACE_PIXELS).fill(0.5), [batch, 1, FACE_SIZE, FACE_SIZE]);
    const out = (await session.run({ [MODEL_INPUT_NAME]: input }))[MODEL_OUTPUT_NAME];
    if (!out || out.dims[0] !== batch || out.dims[1] !== NUM_CLASSES) {
      throw refuse(`warm-up with batch ${batch} returned logits [${out?.dims.join(', ')}], expected [${batch}, ${NUM_CLASSES}]`);
    }
    if (!(out.data as Float32Array).every(Number.isFinite)) throw refuse('warm-up returned non-finite logits');
  }
}

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 300);
