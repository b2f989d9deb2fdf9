import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { FACE_SIZE } from '../../../lib/labels';
import { liveMats } from './cv';
import type { GrayImage } from './decode';
import { closeFaceEngine, createFaceEngine, type FaceEngine, type FaceResult, type FaceSetup, findFaces, NO_ALIGNMENT } from './faces';

/**
 * Where face detection runs: in-process (workers = 0; simplest, blocks the event loop for the duration of a
 * detection) or on a pool of worker threads (the event loop keeps serving crops, health checks and admin calls
 * while photos are searched, and several photos are searched at once on multi-core hosts).
 */
export interface FaceFinder {
  find(img: GrayImage, detect: boolean): Promise<FaceResult>;
  /** opencv objects alive across the process and its workers (as last reported); 0 when idle. */
  liveMats(): number;
  close(): Promise<void>;
}

export async function createFaceFinder(setup: FaceSetup, workers: number): Promise<FaceFinder> {
  const finder = workers > 0 ? await WorkerPool.start(setup, workers) : inProcess(await createFaceEngine(setup));
  return withCropShortcut(finder);
}

/**
 * A pre-aligned 48x48 crop with detect=false is already the model input: the whole-image crop would be an
 * identity warp, so skip opencv and the worker round trip (about a tenth of a crop request's CPU).
 */
function withCropShortcut(finder: FaceFinder): FaceFinder {
  return {
    find: async (img, detect) => {
      if (detect || img.width !== FACE_SIZE || img.height !== FACE_SIZE) return finder.find(img, detect);
      const box = { x: 0, y: 0, width: FACE_SIZE, height: FACE_SIZE };
      return { faces: [{ box, alignment: NO_ALIGNMENT, faceScore: null, pixels: Uint8Array.from(img.data) }], detectMs: 0, alignMs: 0 };
    },
    liveMats: () => finder.liveMats(),
    close: () => finder.close(),
  };
}

function inProcess(engine: FaceEngine): FaceFinder {
  return {
    find: (img, detect) => findFaces(img, engine, detect),
    liveMats,
    close: () => closeFaceEngine(engine),
  };
}

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (r: FaceResult) => void; reject: (e: Error) => void }>;
  live: number;
}

class WorkerPool implements FaceFinder {
  private nextId = 0;
  private closed = false;
  /** Dead workers are replaced only once the pool has started: a bad cascade dir must fail, not loop. */
  private started = false;

  private constructor(
    private readonly setup: FaceSetup,
    private readonly slots: Slot[],
  ) {}

  static async start(setup: FaceSetup, n: number): Promise<WorkerPool> {
    const pool = new WorkerPool(setup, []);
    try {
      await Promise.all(Array.from({ length: n }, () => pool.spawn()));
    } catch (err) {
      await pool.close();
      throw err;
    }
    pool.started = true;
    return pool;
  }

  /** Starts one worker and resolves when its detector and cascades are loaded (a bad path fails start-up). */
  private spawn(): Promise<void> {
    // The project runs TypeScript through tsx without a build step; a worker does not always inherit the parent's
    // loader flags (the test runner's children do not), so it registers tsx's CommonJS hook itself.
    const worker = new Worker(join(__dirname, 'face-worker.ts'), {
      workerData: this.setup,
      execArgv: ['--require', 'tsx/cjs'],
    });
    const slot: Slot = { worker, pending: new Map(), live: 0 };
    this.slots.push(slot);
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: { ready?: true; id: number; ok: boolean; result: FaceResult; error: string; liveMats: number }) => {
        if (msg.ready) return resolve();
        slot.live = msg.liveMats;
        const job = slot.pending.get(msg.id);
        slot.pending.delete(msg.id);
        if (!job) return;
        if (msg.ok) job.resolve(msg.result);
        else job.reject(new Error(`face detection failed: ${msg.error}`));
      });
      worker.on('error', (err) => {
        reject(err);
        this.fail(slot, err);
      });
      worker.on('exit', (code) => this.fail(slot, new Error(`face worker exited with code ${code}`)));
    });
  }

  /** A dead worker fails only its own jobs; a fresh one replaces it so capacity does not shrink. */
  private fail(slot: Slot, err: Error): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    for (const job of slot.pending.values()) job.reject(err);
    slot.pending.clear();
    if (this.started && !this.closed) this.spawn().catch(() => undefined);
  }

  find(img: GrayImage, detect: boolean): Promise<FaceResult> {
    if (this.slots.length === 0) return Promise.reject(new Error('no face worker is running'));
    const slot = this.slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    // A copy the worker can own: the decoded buffer may be a view into libvips' memory.
    const data = new Uint8Array(img.data);
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, data, width: img.width, height: img.height, detect }, [data.buffer]);
    });
  }

  liveMats(): number {
    return liveMats() + this.slots.reduce((a, s) => a + s.live, 0);
  }

  /** Each worker finishes its queued jobs and releases its session, then exits; terminate() only if it hangs. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.slots.map(async (s) => {
        const exited = new Promise<void>((resolve) => s.worker.once('exit', () => resolve()));
        s.worker.postMessage({ close: true });
        const timer = setTimeout(() => void s.worker.terminate(), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
