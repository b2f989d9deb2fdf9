import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

/**
 * Worker thread body owning one onnxruntime session: onnxruntime-node runs a session synchronously on the thread
 * that calls run(), so a session here leaves the HTTP thread free while a batch runs.
 */
export type SessionRequest = { id: number; pixels: Float32Array; dims: number[] } | { id: number; release: true };
export type SessionReply = { id: number; data?: Float32Array; dims?: readonly number[]; error?: string };

const { bytes, options, input, output } = workerData as { bytes: Uint8Array; options: ort.InferenceSession.SessionOptions; input: string; output: string };

async function main(): Promise<void> {
  const session = await ort.InferenceSession.create(bytes, options);
  parentPort!.postMessage({ id: -1 });
  parentPort!.on('message', async (msg: SessionRequest) => {
    if ('release' in msg) {
      await session.release().catch(() => undefined);
      parentPort!.postMessage({ id: msg.id });
      process.exit(0);
    }
    try {
      const out = (await session.run({ [input]: new ort.Tensor('float32', msg.pixels, msg.dims) }))[output];
      const data = out.data as Float32Array;
      parentPort!.postMessage({ id: msg.id, data, dims: out.dims } satisfies SessionReply, [data.buffer as ArrayBuffer]);
    } catch (err) {
      parentPort!.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) } satisfies SessionReply);
    }
  });
}

main().catch((err: unknown) => {
  parentPort!.postMessage({ id: -1, error: err instanceof Error ? err.message : String(err) });
});
