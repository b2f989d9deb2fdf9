import { type CropNet, openCropNet } from './face-net';

/**
 * MTCNN's O-Net face/non-face head (weights from PyPI facenet-pytorch, converted to ONNX by
 * infra/face-detector/convert_mtcnn.py): a second opinion, independent of the detector, on whether a box holds a
 * face. The graph takes (N, 1, 48, 48) raw gray crops (the box square, turned upright) and answers (N) face
 * probabilities. All faces of a photo go through in one batched run.
 */

export const VERIFY_INPUT = 48;

/** `run`: N 48x48 gray crops, row-major, back to back; answers N face probabilities in [0, 1]. */
export type FaceVerifier = CropNet;

/** Loads the converted O-Net; a missing file says how to make it. */
export function loadFaceVerifier(modelFile: string): Promise<FaceVerifier> {
  return openCropNet(modelFile, {
    name: 'O-Net',
    input: 'crops',
    output: 'face_prob',
    side: VERIFY_INPUT,
    howToMake: "run `npm run bootstrap` (it converts MTCNN's O-Net from PyPI facenet-pytorch), or set FEROPS_FACE_VERIFIER_MODEL",
  });
}
