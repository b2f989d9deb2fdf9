import { parentPort, workerData } from 'node:worker_threads';
import { liveMats, loadCascades } from './cv';
import { type DetectOptions, findFaces } from './faces';

/**
 * Worker thread body: opencv work is synchronous wasm, so running it here keeps the HTTP event loop free while
 * a photo is being searched for faces. Each worker loads its own opencv module and cascades.
 */
export interface FaceJob {
  id: number;
  data: Uint8Array;
  width: number;
  height: number;
  detect: boolean;
}

const { cascadeDir, opts } = workerData as { cascadeDir: string; opts: DetectOptions };
const cascades = loadCascades(cascadeDir);

parentPort!.on('message', (job: FaceJob) => {
  try {
    const result = findFaces({ data: Buffer.from(job.data.buffer, job.data.byteOffset, job.data.byteLength), width: job.width, height: job.height, format: 'raw' }, cascades, job.detect, opts);
    const transfer = result.faces.map((f) => f.pixels.buffer as ArrayBuffer);
    parentPort!.postMessage({ id: job.id, ok: true, result, liveMats: liveMats() }, transfer);
  } catch (err) {
    parentPort!.postMessage({ id: job.id, ok: false, error: err instanceof Error ? err.message : String(err), liveMats: liveMats() });
  }
});
parentPort!.postMessage({ ready: true });
