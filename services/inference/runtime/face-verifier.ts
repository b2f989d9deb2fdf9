import * as ort from 'onnxruntime-node';
import { openFaceNet } from './face-net';

/**
 * MTCNN's O-Net face/non-face head (weights from PyPI facenet-pytorch, converted to ONNX by
 * infra/face-detector/convert_mtcnn.py): a second opinion, independent of the detector, on whether a box holds a
 * face. The graph takes (N, 1, 48, 48) raw gray crops (the box square, turned upright) and answers (N) face
 * probabilities. All faces of a photo go through in one batched run.
 */

export const VERIFY_INPUT = 48;
const INPUT = 'crops';
const OUTPUT = 'face_prob';

export interface FaceVerifier {
  /** `crops`: N 48x48 gray crops, row-major, back to back; answers N face probabilities in [0, 1]. */
  run(crops: Float32Array, n: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/** Loads the converted O-Net; a missing file says how to make it. */
export async function loadFaceVerifier(modelFile: string): Promise<FaceVerifier> {
  const session = await openFaceNet(modelFile, {
    name: 'O-Net',
    inputs: [INPUT],
    outputs: [OUTPUT],
    howToMake: "run `npm run bootstrap` (it converts MTCNN's O-Net from PyPI facenet-pytorch), or set FEROPS_FACE_VERIFIER_MODEL",
  });
  return {
    async run(crops, n) {
      if (crops.length !== n * VERIFY_INPUT * VERIFY_INPUT) throw new Error(`face verifier batch has ${crops.length} values for ${n} crops`);
      if (n === 0) return new Float32Array(0);
      const out = (await session.run({ [INPUT]: new ort.Tensor('float32', crops, [n, 1, VERIFY_INPUT, VERIFY_INPUT]) }))[OUTPUT];
      return out.data as Float32Array;
    },
    close: () => session.release(),
  };
}
