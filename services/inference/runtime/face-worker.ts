import { parentPort, workerData } from 'node:worker_threads';
import { liveMats } from './cv';
import type { Proposal } from './detectors/small-faces';
import type { SmallFaceProposals } from './detectors/detector';
import { closeFaceEngine, createFaceEngine, type FaceSetup, findFaces } from './faces';

/**
 * Worker thread body: detection and opencv work are CPU-bound, so running them here keeps the HTTP event loop
 * free while a photo is being searched for faces. Each worker loads its own detector session, opencv module and
 * cascades; jobs run one at a time, in arrival order. The small-face search's P-Net stage that another worker asks
 * for (through the pool) runs at once, beside them: it waits on nothing, so two workers asking each other cannot
 * deadlock.
 */
export interface FaceJob {
  id: number;
  data: Uint8Array;
  width: number;
  height: number;
  detect: boolean;
  /** The small-face search's smallest face for this photo (0: none); the worker's configured one when absent. */
  minFace?: number;
  /** Ask the pool to run the small-face search's P-Net stage on another worker (`SmallSearchRequest`), beside this job. */
  searchElsewhere: boolean;
}

/** Worker to pool: run P-Net for job `smallRequest`'s photo, faces from `minFace` to `maxFace` px, on another worker. */
export interface SmallSearchRequest {
  smallRequest: number;
  minFace: number;
  maxFace: number;
}

/** Pool to worker: run P-Net on the photo of job `small` (another worker's). */
export interface SmallSearchJob {
  small: number;
  minFace: number;
  maxFace: number;
  data: Uint8Array;
  width: number;
  height: number;
}

/** Worker to pool, and pool to the asking worker (as `smallAnswer`): P-Net's proposals, or why there are none. */
export interface SmallSearchResult {
  proposals?: Proposal[];
  error?: string;
}

type Message = FaceJob | SmallSearchJob | ({ smallAnswer: number } & SmallSearchResult) | { close: true };

async function main(): Promise<void> {
  const engine = await createFaceEngine(workerData as FaceSetup);
  let queue = Promise.resolve();
  const searches = new Set<Promise<void>>();
  const asked = new Map<number, { resolve: (proposals: Proposal[]) => void; reject: (e: Error) => void }>();
  parentPort!.on('message', (msg: Message) => {
    if ('close' in msg) {
      // Release the onnxruntime sessions here, not by terminate(): native sessions torn down with a
      // terminated thread's environment can abort the process at shutdown.
      queue = queue
        .then(() => Promise.all(searches))
        .then(() => closeFaceEngine(engine))
        .finally(() => process.exit(0));
    } else if ('smallAnswer' in msg) {
      const waiting = asked.get(msg.smallAnswer);
      asked.delete(msg.smallAnswer);
      if (msg.proposals) waiting?.resolve(msg.proposals);
      else waiting?.reject(new Error(msg.error));
    } else if ('small' in msg) {
      const search = runSearch(msg).finally(() => searches.delete(search));
      searches.add(search);
    } else {
      queue = queue.then(() => runJob(msg));
    }
  });
  parentPort!.postMessage({ ready: true });

  async function runJob(job: FaceJob): Promise<void> {
    try {
      const elsewhere: SmallFaceProposals | undefined = job.searchElsewhere
        ? (_img, minFace, maxFace) =>
            new Promise((resolve, reject) => {
              asked.set(job.id, { resolve, reject });
              parentPort!.postMessage({ smallRequest: job.id, minFace, maxFace } satisfies SmallSearchRequest);
            })
        : undefined;
      const result = await findFaces(grayOf(job), engine, job.detect, elsewhere, job.minFace);
      const transfer = result.faces.map((f) => f.pixels.buffer as ArrayBuffer);
      parentPort!.postMessage({ id: job.id, ok: true, result, liveMats: liveMats() }, transfer);
    } catch (err) {
      parentPort!.postMessage({ id: job.id, ok: false, error: err instanceof Error ? err.message : String(err), liveMats: liveMats() });
    } finally {
      asked.delete(job.id);
    }
  }

  async function runSearch(job: SmallSearchJob): Promise<void> {
    try {
      if (!engine.detector.proposeSmallFaces) throw new Error('this worker has no small-face search');
      const proposals = await engine.detector.proposeSmallFaces(grayOf(job), job.minFace, job.maxFace);
      parentPort!.postMessage({ smallResult: job.small, proposals, liveMats: liveMats() });
    } catch (err) {
      parentPort!.postMessage({ smallResult: job.small, error: err instanceof Error ? err.message : String(err), liveMats: liveMats() });
    }
  }
}

const grayOf = (job: { data: Uint8Array; width: number; height: number }) => ({
  data: Buffer.from(job.data.buffer, job.data.byteOffset, job.data.byteLength),
  width: job.width,
  height: job.height,
  format: 'raw',
});

main().catch((err: unknown) => {
  // Rethrown outside the promise chain: the worker dies with an 'error' event, which the pool turns into a
  // start-up failure (missing cascades or detector model) instead of a worker that never answers.
  setImmediate(() => {
    throw err;
  });
});
