import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * opencv-wasm, loaded once per process. Its typings are all `any`, so the few shapes we use are typed here.
 * Every wasm object (Mat, RectVector, classifier) lives in the wasm heap until `.delete()`: use `withMats` so a
 * thrown error cannot leak one, and `liveMats()` lets tests assert the count is back to zero.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

export interface CvDeletable {
  delete(): void;
}
export interface CvMat extends CvDeletable {
  rows: number;
  cols: number;
  data: Uint8Array;
  roi(rect: CvRect): CvMat;
}
export interface CvRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

let cvModule: Any | undefined;

/** The opencv module (synchronous load, ~0.4 s the first time). */
export function cv(): Any {
  if (!cvModule) {
    // The emscripten loader installs process-wide uncaughtException/unhandledRejection handlers (the latter calls
    // abort() and kills the process with a wasm RuntimeError); remove them so Node's own behaviour and the
    // test runner's reporting stay intact.
    const exceptionBefore = new Set(process.listeners('uncaughtException'));
    const rejectionBefore = new Set(process.listeners('unhandledRejection'));
    cvModule = require('opencv-wasm').cv;
    for (const l of process.listeners('uncaughtException')) if (!exceptionBefore.has(l)) process.off('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection')) if (!rejectionBefore.has(l)) process.off('unhandledRejection', l);
  }
  return cvModule;
}

let live = 0;
/** wasm objects created through `withMats` and not yet deleted; 0 between requests. */
export const liveMats = (): number => live;

/**
 * Runs `fn` with a `track` function; every object passed to `track` is deleted when `fn` returns or throws.
 * Objects that must outlive the call (the cascades) are simply not tracked.
 */
export function withMats<T>(fn: (track: <M extends CvDeletable>(m: M) => M) => T): T {
  const owned: CvDeletable[] = [];
  const track = <M extends CvDeletable>(m: M): M => {
    owned.push(m);
    live++;
    return m;
  };
  try {
    return fn(track);
  } finally {
    for (const m of owned.reverse()) {
      try {
        m.delete();
      } finally {
        live--;
      }
    }
  }
}

/** opencv.js throws raw wasm pointers (numbers); turn them into readable Errors. */
export function cvError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (typeof err === 'number') {
    try {
      return new Error(`opencv: ${cv().exceptionFromPtr(err).msg}`);
    } catch {
      return new Error(`opencv exception ${err}`);
    }
  }
  return new Error(`opencv: ${String(err)}`);
}

export interface Cascades {
  face: Any;
  eye: Any;
  /** Finds eyes behind glasses, where haarcascade_eye often misses one. */
  eyeglasses: Any;
}

let cascades: { dir: string; value: Cascades } | undefined;

/** Loads the Haar cascades from `dir` into the wasm file system once; a clear error if they are missing. */
export function loadCascades(dir: string): Cascades {
  if (cascades?.dir === dir) return cascades.value;
  const c = cv();
  const load = (file: string): Any => {
    const path = join(dir, file);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      throw new Error(
        `Haar cascade ${path} not found: set FEROPS_CASCADE_DIR to opencv-python-headless's cv2/data directory`,
      );
    }
    const wasmPath = `/cascade-${file}`;
    c.FS.writeFile(wasmPath, bytes);
    const classifier = new c.CascadeClassifier();
    if (!classifier.load(wasmPath)) {
      classifier.delete();
      throw new Error(`opencv could not parse cascade ${path}`);
    }
    return classifier;
  };
  const value: Cascades = {
    face: load('haarcascade_frontalface_default.xml'),
    eye: load('haarcascade_eye.xml'),
    eyeglasses: load('haarcascade_eye_tree_eyeglasses.xml'),
  };
  if (cascades) for (const old of Object.values(cascades.value)) old.delete();
  cascades = { dir, value };
  return value;
}
