import type * as ort from 'onnxruntime-node';
import { NUM_CLASSES } from '../../lib/labels';
import { classify } from '../../lib/onnx/classifier-session';
import { FACE_PIXELS, facesToTensorData, softmax } from '../../lib/preprocess';
import { percentile } from './metrics';

export interface Predictions {
  /** argmax class per image */
  predicted: Uint8Array;
  /** probability of the argmax class per image */
  confidence: Float32Array;
}

function facesAt(images: Uint8Array, from: number, to: number): Uint8Array[] {
  return Array.from({ length: to - from }, (_, i) => images.subarray((from + i) * FACE_PIXELS, (from + i + 1) * FACE_PIXELS));
}

const runBatch = (session: ort.InferenceSession, faces: Uint8Array[]): Promise<Float32Array> => classify(session, facesToTensorData(faces), faces.length);

/** Classifies `count` faces (packed 48x48 uint8) in batches, with the same preprocessing the service uses. */
export async function predictAll(session: ort.InferenceSession, images: Uint8Array, count: number, batchSize = 64): Promise<Predictions> {
  const predicted = new Uint8Array(count);
  const confidence = new Float32Array(count);
  for (let from = 0; from < count; from += batchSize) {
    const to = Math.min(count, from + batchSize);
    const logits = await runBatch(session, facesAt(images, from, to));
    for (let b = 0; b < to - from; b++) {
      const probs = softmax(logits.subarray(b * NUM_CLASSES, (b + 1) * NUM_CLASSES));
      let best = 0;
      for (let c = 1; c < NUM_CLASSES; c++) if (probs[c] > probs[best]) best = c;
      predicted[from + b] = best;
      confidence[from + b] = probs[best];
    }
  }
  return { predicted, confidence };
}

/**
 * Per-image latency at batch 1 (what one request sees), over the first `samples` images after a short warm-up
 * so that session initialisation and first-run allocations are not counted.
 */
export async function measureLatency(session: ort.InferenceSession, images: Uint8Array, count: number, samples = 200): Promise<{ p50: number; p99: number; samples: number }> {
  const n = Math.min(samples, count);
  for (let i = 0; i < Math.min(5, n); i++) await runBatch(session, facesAt(images, i, i + 1));
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await runBatch(session, facesAt(images, i, i + 1));
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99), samples: n };
}
