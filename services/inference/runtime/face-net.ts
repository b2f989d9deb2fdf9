import { existsSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

/**
 * Opens one of the face nets bootstrap converts to ONNX (detector, landmarks, MTCNN), the same way for all: a missing
 * file says how to make it, and a file without the expected inputs and outputs is refused before it is used.
 * One intra-op thread: face detection runs on several worker threads at once, each with its own sessions.
 */
export async function openFaceNet(
  file: string,
  net: { name: string; inputs: string[]; outputs: string[]; howToMake: string },
): Promise<ort.InferenceSession> {
  if (!existsSync(file)) throw new Error(`${net.name} model ${file} not found: ${net.howToMake}`);
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  if (!net.inputs.every((i) => session.inputNames.includes(i)) || !net.outputs.every((o) => session.outputNames.includes(o))) {
    await session.release();
    throw new Error(`${file} is not the converted ${net.name} (inputs ${session.inputNames}, outputs ${session.outputNames})`);
  }
  return session;
}
