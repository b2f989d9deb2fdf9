import { parentPort, workerData } from 'node:worker_threads';
import { liveMats } from './cv';
import { closeFaceEngine, createFaceEngine, type FaceSetup, findFaces } from './faces';

/**
 * Worker thread body: detection and opencv work are CPU-bound, so running them here keeps the HTTP event loop
 * free while a photo is being searched for faces. Each worker loads its own detector session, opencv module and
 * cascades; jobs run one at a time, in arrival order.
 */
export interface FaceJob {
  id: number;
  data: Uint8Array;
  width: number;
  height: number;
  detect: boolean;
}

async function main(): Promise<void> {
  const engine = await createFaceEngine(workerData as FaceSetup);
  let queue = Promise.resolve();
  parentPort!.on('message', (job: FaceJob | { close: true }) => {
    if ('close' in job) {
      // Release the onnxruntime sessions here, not by terminate(): native sessions torn down with a
      // terminated thread's environment can abort the process at shutdown.
      queue = queue.then(() => closeFaceEngine(engine)).finally(() => process.exit(0));
      return;
    }
    queue = queue.then(() => runJob(job));
  });
  parentPort!.postMessage({ ready: true });

  async function runJob(job: FaceJob): Promise<void> {
    try {
      const img = { data: Buffer.from(job.data.buffer, job.data.byteOffset, job.data.byteLength), width: job.width, height: job.height, format: 'raw' };
      const result = await findFaces(img, engine, job.detect);
      const transfer = result.faces.map((f) => f.pixels.buffer as ArrayBuffer);
      parentPort!.postMessage({ id: job.id, ok: true, result, liveMats: liveMats() }, transfer);
    } catch (err) {
      parentPort!.postMessage({ id: job.id, ok: false, error: err instanceof Error ? err.message : String(err), liveMats: liveMats() });
    }
  }
}

main().catch((err: unknown) => {
  // Rethrown outside the promise chain: the worker dies with an 'error' event, which the pool turns into a
  // start-up failure (missing cascades or detector model) instead of a worker that never answers.
  setImmediate(() => {
    throw err;
  });
});
