import { FACE_SIZE } from './labels';

/**
 * The one preprocessing step shared by evaluation and the inference service, so that a model is measured
 * exactly as it is served. Models take `pixels`: float32 (B, 1, 48, 48) with values in [0, 1]; resizing to the
 * ViT's resolution, the 3 channels and mean/std normalisation happen inside the exported ONNX graph.
 */
export const MODEL_INPUT_NAME = 'pixels';
export const MODEL_OUTPUT_NAME = 'logits';
export const FACE_PIXELS = FACE_SIZE * FACE_SIZE;

/** Packs `faces` (each a 48x48 uint8 grayscale crop, row-major) into one (B, 1, 48, 48) float32 batch. */
export function facesToTensorData(faces: readonly Uint8Array[]): Float32Array {
  const out = new Float32Array(faces.length * FACE_PIXELS);
  faces.forEach((face, b) => {
    if (face.length !== FACE_PIXELS) throw new Error(`face ${b} has ${face.length} pixels, expected ${FACE_PIXELS}`);
    const base = b * FACE_PIXELS;
    for (let i = 0; i < FACE_PIXELS; i++) out[base + i] = face[i] / 255;
  });
  return out;
}

/** Numerically stable softmax of one row of logits. */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const exps = Array.from({ length: logits.length }, (_, i) => Math.exp(logits[i] - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}
