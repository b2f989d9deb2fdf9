import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { FACE_SIZE } from '../../../lib/labels';
import { liveMats } from './cv';
import type { GrayImage } from './decode';
import { closeFaceEngine, createFaceEngine, type FaceEngine, type FaceResult, type FaceSetup, findFaces, NO_ALIGNMENT } from './faces';
import type { FaceJob, SmallSearchJob, SmallSearchRequest, SmallSearchResult } from './face-worker';

/**
 * Where face detection runs: in-process (workers = 0; simplest, blocks the event loop for the duration of a
 * detection) or on a pool of worker threads (the event loop keeps serving crops, health checks and admin calls
 * while photos are searched, and several photos are searched at once on multi-core hosts).
 */
export interface FaceFinder {
  /** `minFace`: the small-face search's smallest face for this photo (0: none), FEROPS_DETECT_MIN_FACE when absent. */
  find(img: GrayImage, detect: boolean, minFace?: number): Promise<FaceResult>;
  /** opencv objects alive across the process and its workers (as last reported); 0 when idle. */
  liveMats(): number;
  /** Small-face searches whose P-Net another worker ran for the photo's own (0 in-process or with one worker). */
  searchesElsewhere(): number;
  close(): Promise<void>;
}

/** What the pool tells its owner when a running worker dies: why, and how long until its replacement starts. */
export type WorkerCrashReport = (err: Error, respawnInMs: number) => void;

export async function createFaceFinder(setup: FaceSetup, workers: number, onCrash: WorkerCrashReport = () => undefined): Promise<FaceFinder> {
  const finder = workers > 0 ? await WorkerPool.start(setup, workers, onCrash) : inProcess(await createFaceEngine(setup));
  return withCropShortcut(finder);
}

/**
 * A pre-aligned 48x48 crop with detect=false is already the model input: the whole-image crop would be an
 * identity warp, so skip opencv and the worker round trip (about a tenth of a crop request's CPU).
 */
function withCropShortcut(finder: FaceFinder): FaceFinder {
  return {
    find: async (img, detect, minFace) => {
      if (detect || img.width !== FACE_SIZE || img.height !== FACE_SIZE) return finder.find(img, detect, minFace);
      const box = { x: 0, y: 0, width: FACE_SIZE, height: FACE_SIZE };
      return { faces: [{ box, alignment: NO_ALIGNMENT, faceScore: null, pixels: Uint8Array.from(img.data) }], detectMs: 0, alignMs: 0 };
    },
    liveMats: () => finder.liveMats(),
    searchesElsewhere: () => finder.searchesElsewhere(),
    close: () => finder.close(),
  };
}

function inProcess(engine: FaceEngine): FaceFinder {
  return {
    find: (img, detect, minFace) => findFaces(img, engine, detect, undefined, minFace),
    liveMats,
    searchesElsewhere: () => 0,
    close: () => closeFaceEngine(engine),
  };
}

interface Slot {
  worker: Worker;
  /** Its jobs, each with its photo, for the small-face search's P-Net that the job may ask another worker to run. */
  pending: Map<number, { resolve: (r: FaceResult) => void; reject: (e: Error) => void; img: GrayImage }>;
  /** P-Net runs it does for other workers' jobs: job id -> the worker that asked. */
  searching: Map<number, Slot>;
  live: number;
}

type WorkerMessage =
  | { ready: true }
  | ({ id: number; liveMats: number } & ({ ok: true; result: FaceResult } | { ok: false; error: string }))
  | SmallSearchRequest
  | ({ smallResult: number; liveMats: number } & SmallSearchResult);

const load = (s: Slot) => s.pending.size + s.searching.size;

const RESPAWN_WINDOW_MS = 10_000;
const FIRST_RESPAWN_DELAY_MS = 500;
const MAX_RESPAWN_DELAY_MS = 30_000;

class WorkerPool implements FaceFinder {
  private nextId = 0;
  private closed = false;
  private searched = 0;
  /** Dead workers are replaced only once the pool has started: a bad cascade dir must fail, not loop. */
  private started = false;
  private respawnDelayMs = 0;
  private lastRespawnAt = -Infinity;

  private constructor(
    private readonly setup: FaceSetup,
    private readonly slots: Slot[],
    private readonly onCrash: WorkerCrashReport,
  ) {}

  static async start(setup: FaceSetup, n: number, onCrash: WorkerCrashReport): Promise<WorkerPool> {
    const pool = new WorkerPool(setup, [], onCrash);
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
    const slot: Slot = { worker, pending: new Map(), searching: new Map(), live: 0 };
    this.slots.push(slot);
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: WorkerMessage) => {
        if ('ready' in msg) return resolve();
        if ('smallRequest' in msg) return this.searchElsewhere(slot, msg);
        slot.live = msg.liveMats;
        if ('smallResult' in msg) return this.answerSearch(slot, msg.smallResult, msg);
        const job = slot.pending.get(msg.id);
        slot.pending.delete(msg.id);
        if (!job) return;
        if (msg.ok) job.resolve(msg.result);
        else job.reject(new Error(`face detection failed: ${msg.error}`));
      });
      worker.on('error', (err) => {
        reject(err);
        this.fail(slot, new Error(`face worker crashed: ${err.message}`));
      });
      worker.on('exit', (code) => this.fail(slot, new Error(`face worker exited with code ${code}`)));
    });
  }

  /**
   * A worker's job asks for the small-face search's P-Net: it runs on the least busy other worker, beside the asker's
   * own detection, so at low load a photo uses two cores. With no other worker the asker is told to run it itself.
   */
  private searchElsewhere(asker: Slot, { smallRequest: id, minFace, maxFace }: SmallSearchRequest): void {
    const img = asker.pending.get(id)?.img;
    const others = this.slots.filter((s) => s !== asker);
    if (!img || others.length === 0) return asker.worker.postMessage({ smallAnswer: id, error: 'no other face worker' });
    const helper = others.reduce((a, b) => (load(b) < load(a) ? b : a));
    helper.searching.set(id, asker);
    const data = new Uint8Array(img.data);
    helper.worker.postMessage({ small: id, minFace, maxFace, data, width: img.width, height: img.height } satisfies SmallSearchJob, [data.buffer]);
  }

  /** A helper's P-Net result (or its failure) goes to the worker that asked, if that one still runs. */
  private answerSearch(helper: Slot, id: number, { proposals, error }: SmallSearchResult): void {
    const asker = helper.searching.get(id);
    helper.searching.delete(id);
    if (!asker || !this.slots.includes(asker)) return;
    if (proposals) this.searched++;
    asker.worker.postMessage({ smallAnswer: id, proposals, error });
  }

  /** A dead worker fails only its own jobs; a fresh one replaces it so capacity does not shrink. */
  private fail(slot: Slot, err: Error): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    for (const job of slot.pending.values()) job.reject(err);
    slot.pending.clear();
    // Workers waiting on its P-Net runs run it themselves instead.
    for (const id of [...slot.searching.keys()]) this.answerSearch(slot, id, { error: err.message });
    if (this.started && !this.closed) this.replace(err);
  }

  /** Starts a replacement at once, or, within RESPAWN_WINDOW_MS of the last, twice as late: a crash loop must not spin a core. */
  private replace(err: Error): void {
    const now = Date.now();
    this.respawnDelayMs = now - this.lastRespawnAt < RESPAWN_WINDOW_MS ? Math.min(MAX_RESPAWN_DELAY_MS, Math.max(FIRST_RESPAWN_DELAY_MS, 2 * this.respawnDelayMs)) : 0;
    this.lastRespawnAt = now + this.respawnDelayMs;
    this.onCrash(err, this.respawnDelayMs);
    setTimeout(() => {
      if (!this.closed) this.spawn().catch(() => undefined);
    }, this.respawnDelayMs).unref();
  }

  find(img: GrayImage, detect: boolean, minFace?: number): Promise<FaceResult> {
    if (this.slots.length === 0) return Promise.reject(new Error('no face worker is running'));
    const slot = this.slots.reduce((a, b) => (load(b) < load(a) ? b : a));
    const id = this.nextId++;
    // A copy the worker can own: the decoded buffer may be a view into libvips' memory.
    const data = new Uint8Array(img.data);
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject, img });
      const job: FaceJob = { id, data, width: img.width, height: img.height, detect, minFace, searchElsewhere: detect && this.slots.length > 1 };
      slot.worker.postMessage(job, [data.buffer]);
    });
  }

  liveMats(): number {
    return liveMats() + this.slots.reduce((a, s) => a + s.live, 0);
  }

  searchesElsewhere(): number {
    return this.searched;
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
