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

/** A face net that reads batches of square gray crops (the landmark net, the face verifier). */
export interface CropNet {
  /** `crops`: N `side` x `side` gray crops, row-major, back to back; answers the output for all N, as one array. */
  run(crops: Float32Array, n: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/**
 * Opens such a net (as openFaceNet does) with input `input` (N, 1, side, side) and output `output`: a batch that
 * does not hold whole crops is refused, and an empty one answers nothing without running.
 */
export async function openCropNet(
  file: string,
  net: { name: string; input: string; output: string; side: number; howToMake: string },
): Promise<CropNet> {
  const session = await openFaceNet(file, { name: net.name, inputs: [net.input], outputs: [net.output], howToMake: net.howToMake });
  const plane = net.side * net.side;
  return {
    async run(crops, n) {
      if (crops.length !== n * plane) throw new Error(`${net.name} batch has ${crops.length} values for ${n} crops`);
      if (n === 0) return new Float32Array(0);
      const out = await session.run({ [net.input]: new ort.Tensor('float32', crops, [n, 1, net.side, net.side]) });
      return out[net.output].data as Float32Array;
    },
    close: () => session.release(),
  };
}
