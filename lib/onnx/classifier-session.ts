import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { FACE_SIZE, NUM_CLASSES } from '../labels';
import { FACE_PIXELS, MODEL_INPUT_NAME, MODEL_OUTPUT_NAME } from '../preprocess';
import { firstLine, invalidModel, ModelArtifactError } from './model-error';

/**
 * The onnxruntime options of every classifier session, served or evaluated (the HTTP bench uses them too, to
 * separate the cost of the HTTP path from that of thread settings). One batch runs at a time per session, so
 * inter-op parallelism buys nothing; intra-op threads are left to onnxruntime (all cores) unless `threads` > 0.
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

export interface ClassifierSession {
  session: ort.InferenceSession;
  /** The intra-op threads it runs with (see servingThreads). */
  threads: number;
  /** Classifies one face in under SMALL_MODEL_MS. */
  small: boolean;
}

/**
 * The one way a classifier becomes a session, for the service and the evaluate activity alike: the serving options,
 * the graph checked (input `pixels` (B,1,48,48), output `logits` (B,7)), a warm-up on batches of 1 and 2 that must
 * return finite logits, and the thread count chosen as served. Anything else is an invalid_model error.
 */
export async function openClassifierSession(bytes: Uint8Array, threads: number, fileName: string): Promise<ClassifierSession> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, ortSessionOptions(threads));
  } catch (err) {
    throw invalidModel(`${fileName} is not a loadable ONNX model: ${firstLine(err)}`);
  }
  try {
    checkSignature(session);
    await warmUp(session);
    const small = (await singleFaceMs(session)) < SMALL_MODEL_MS;
    const serving = threadsFor(small, threads);
    if (serving !== threads) {
      const single = await ort.InferenceSession.create(bytes, ortSessionOptions(serving));
      await session.release();
      session = single;
      await warmUp(session);
    }
    return { session, threads: serving, small };
  } catch (err) {
    await session.release().catch(() => undefined);
    throw err instanceof ModelArtifactError ? err : invalidModel(`warm-up run failed: ${firstLine(err)}`);
  }
}

function checkSignature(session: ort.InferenceSession): void {
  if (!session.inputNames.includes(MODEL_INPUT_NAME) || session.inputNames.length !== 1) {
    throw invalidModel(`model inputs are [${session.inputNames.join(', ')}], expected exactly [${MODEL_INPUT_NAME}]`);
  }
  if (!session.outputNames.includes(MODEL_OUTPUT_NAME)) {
    throw invalidModel(`model outputs are [${session.outputNames.join(', ')}], expected ${MODEL_OUTPUT_NAME}`);
  }
  const input = session.inputMetadata.find((m) => m.name === MODEL_INPUT_NAME);
  if (input?.isTensor) {
    const [, ch, h, w] = input.shape;
    if (input.type !== 'float32' || input.shape.length !== 4 || ch !== 1 || h !== FACE_SIZE || w !== FACE_SIZE) {
      throw invalidModel(`input ${MODEL_INPUT_NAME} is ${input.type} [${input.shape.join(', ')}], expected float32 [B, 1, ${FACE_SIZE}, ${FACE_SIZE}]`);
    }
  }
  const output = session.outputMetadata.find((m) => m.name === MODEL_OUTPUT_NAME);
  if (output?.isTensor && (output.shape.length !== 2 || (typeof output.shape[1] === 'number' && output.shape[1] !== NUM_CLASSES))) {
    throw invalidModel(`output ${MODEL_OUTPUT_NAME} is [${output.shape.join(', ')}], expected [B, ${NUM_CLASSES}]`);
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
    const logits = await classify(session, new Float32Array(batch * FACE_PIXELS).fill(0.5), batch);
    if (!logits.every(Number.isFinite)) throw invalidModel('warm-up returned non-finite logits');
  }
}

/** One batch of faces, packed (B, 1, 48, 48), through a classifier session: its (B, 7) logits, row by row. */
export async function classify(session: ort.InferenceSession, pixels: Float32Array, batch: number): Promise<Float32Array> {
  const input = new ort.Tensor('float32', pixels, [batch, 1, FACE_SIZE, FACE_SIZE]);
  return checkedLogits((await session.run({ [MODEL_INPUT_NAME]: input }))[MODEL_OUTPUT_NAME], batch);
}

/** A run's output as (B, 7) logits, or an error naming the shape the model returned instead. */
export function checkedLogits(out: { data: unknown; dims: readonly number[] } | undefined, batch: number): Float32Array {
  if (!out || out.dims.length !== 2 || out.dims[0] !== batch || out.dims[1] !== NUM_CLASSES) {
    throw new Error(`model returned logits of shape [${out?.dims.join(', ')}], expected [${batch}, ${NUM_CLASSES}]`);
  }
  return out.data as Float32Array;
}
