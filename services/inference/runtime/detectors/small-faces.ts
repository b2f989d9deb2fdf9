import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { boxTransform, cropBatch, grayMat } from '../crop';
import { cv, type CvMat, withMats } from '../cv';
import type { GrayImage } from '../decode';
import { openFaceNet } from '../face-net';
import { type FaceVerifier, loadFaceVerifier } from '../face-verifier';
import { intersectionOverSmaller, nonMaxSuppression, type ScoredBox } from './boxes';
import type { Box, SmallFaceProposals } from './detector';

/**
 * Small faces with MTCNN (weights from PyPI facenet-pytorch, converted to ONNX by infra/face-detector/convert_mtcnn.py):
 * P-Net slides a 12x12 window (stride 2) over an image pyramid and proposes faces, R-Net re-scores and refines each
 * proposal on a 24x24 crop, O-Net confirms each on a 48x48 crop. The pyramid only spans the face sizes the detector
 * beside it is too coarse for (the Tiny Face Detector's smallest anchor is ~50 px of its input, the photo scaled to
 * at most 512 px; BlazeFace frames faces under ~24 px of its 256 px view poorly), from `minFace` up
 * (docs/inference.md#landmarks-and-alignment). Thresholds and box arithmetic follow facenet-pytorch's detect_face.
 */

const CELL = 12;
const STRIDE = 2;
/** Scale step between pyramid levels (MTCNN's). */
const PYRAMID_FACTOR = 0.709;
const PNET_MIN_PROB = 0.6;
const RNET_MIN_PROB = 0.7;
const ONET_MIN_PROB = 0.7;
const RNET_INPUT = 24;
const ONET_INPUT = 48;
/** Most P-Net proposals R-Net checks (best first): bounds a textured photo's cost. */
const MAX_PROPOSALS = 64;
/** Faces at least this many pixels of the Tiny Face Detector's input are left to it. */
export const TINY_DETECTOR_MIN_FACE = 48;
const INPUT = 'crops';
const PROB = 'face_prob';
const REG = 'box_reg';

export interface SmallFaceNets {
  /**
   * Most pixels the pyramid's first (largest) level may hold (FEROPS_DETECT_SEARCH_PIXELS): on a larger photo the
   * smallest face searched grows instead, so the cost stays bounded (each level costs in proportion to its pixels).
   */
  maxLevelPixels: number;
  pnet: ort.InferenceSession;
  rnet: ort.InferenceSession;
  /** O-Net, loaded as the face verifier is (its face probability is MTCNN's third stage). */
  onet: FaceVerifier;
  close(): Promise<void>;
}

/** Loads MTCNN's three nets from `dir` (bootstrap converts them beside the detector); a missing file says how to make it. */
export async function loadSmallFaceNets(dir: string, maxLevelPixels: number): Promise<SmallFaceNets> {
  const howToMake = 'run `npm run bootstrap` (it converts MTCNN from PyPI facenet-pytorch), or put mtcnn_*.onnx beside FEROPS_FACE_DETECTOR_MODEL';
  const open = (net: string) => openFaceNet(join(dir, `mtcnn_${net}.onnx`), { name: `MTCNN ${net}`, inputs: [INPUT], outputs: [PROB, REG], howToMake });
  const opened: { close(): Promise<void> }[] = [];
  const close = async () => void (await Promise.all(opened.map((n) => n.close())));
  try {
    const pnet = await open('pnet');
    opened.push({ close: () => pnet.release() });
    const rnet = await open('rnet');
    opened.push({ close: () => rnet.release() });
    const onet = await loadFaceVerifier(join(dir, 'mtcnn_onet.onnx'));
    opened.push(onet);
    return { maxLevelPixels, pnet, rnet, onet, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** One detector's small-face search: MTCNN's nets, loaded when first needed. */
export interface SmallFaceSearch {
  /** Faces from `minFace` to `maxFace` image pixels, P-Net's stage `elsewhere` when given (see searchSmallFaces). */
  search(img: GrayImage, minFace: number, maxFace: number, elsewhere?: SmallFaceProposals): Promise<ScoredBox[]>;
  /** P-Net's stage alone, for another thread's search. */
  propose: SmallFaceProposals;
  close(): Promise<void>;
}

/**
 * The nets are loaded at once when `now` (the search is configured, FEROPS_DETECT_MIN_FACE: a missing file stops the
 * start, as it always did), else by the first photo that asks (`?minFace=`), so that a service whose clients never
 * ask does not hold them. A failed load fails that photo, and the next one that asks tries again.
 */
export async function smallFaceSearch(dir: string, maxLevelPixels: number, now: boolean): Promise<SmallFaceSearch> {
  let loading: Promise<SmallFaceNets> | undefined;
  const nets = () => {
    if (!loading) {
      const load = loadSmallFaceNets(dir, maxLevelPixels);
      load.catch(() => loading === load && (loading = undefined));
      loading = load;
    }
    return loading;
  };
  if (now) await nets();
  return {
    search: async (img, minFace, maxFace, elsewhere) => searchSmallFaces(img, await nets(), minFace, maxFace, elsewhere),
    propose: async (img, minFace, maxFace) => proposeSmallFaces(img, await nets(), minFace, maxFace),
    close: async () => {
      const loaded = loading;
      loading = undefined;
      await (await loaded?.catch(() => undefined))?.close();
    },
  };
}

/**
 * The pyramid's scales (level px per image px) for faces from `minFace` to `maxFace` image pixels: the first level
 * makes a `minFace` face fill P-Net's 12 px window, unless that level would exceed `maxLevelPixels`.
 */
export function pyramidScales(width: number, height: number, minFace: number, maxFace: number, maxLevelPixels: number): number[] {
  const scales: number[] = [];
  for (let s = Math.min(CELL / minFace, Math.sqrt(maxLevelPixels / (width * height))); CELL / s <= maxFace; s *= PYRAMID_FACTOR) {
    if (Math.min(width, height) * s < CELL) break;
    scales.push(s);
  }
  return scales;
}

/**
 * P-Net's proposals from `elsewhere` (another worker thread, so the costliest stage runs beside the detector's own
 * passes) when given, else from this thread, and here too when elsewhere fails (its worker died): a photo is never
 * answered without them. R-Net and O-Net then confirm them on this thread.
 */
async function searchSmallFaces(img: GrayImage, nets: SmallFaceNets, minFace: number, maxFace: number, elsewhere?: SmallFaceProposals): Promise<ScoredBox[]> {
  const here = () => proposeSmallFaces(img, nets, minFace, maxFace);
  return confirmSmallFaces(img, nets, await (elsewhere ? elsewhere(img, minFace, maxFace).catch(here) : here()));
}

/** A candidate face with a net's box regression: offsets of its left, top, right, bottom in units of its size. */
export interface Proposal extends ScoredBox {
  reg?: [number, number, number, number];
}

/** P-Net over the pyramid: the best MAX_PROPOSALS candidate faces, with their box regression. */
async function proposeSmallFaces(img: GrayImage, nets: SmallFaceNets, minFace: number, maxFace: number): Promise<Proposal[]> {
  const proposals: Proposal[] = [];
  for (const level of pyramid(img, pyramidScales(img.width, img.height, minFace, maxFace, nets.maxLevelPixels))) {
    const out = await nets.pnet.run({ [INPUT]: new ort.Tensor('float32', level.data, [1, 1, level.height, level.width]) });
    proposals.push(...nonMaxSuppression(windows(out[PROB], out[REG], level.scale), 0.5));
  }
  return nonMaxSuppression(proposals, 0.7).slice(0, MAX_PROPOSALS);
}

/** R-Net re-scores and refines P-Net's proposals, O-Net confirms what is left. */
async function confirmSmallFaces(img: GrayImage, nets: SmallFaceNets, proposals: Proposal[]): Promise<ScoredBox[]> {
  if (proposals.length === 0) return [];
  const boxes = proposals.map((p) => square(refine(p, 0)));
  const out = await nets.rnet.run({ [INPUT]: new ort.Tensor('float32', crops(img, boxes, RNET_INPUT), [boxes.length, 1, RNET_INPUT, RNET_INPUT]) });
  const prob = out[PROB].data as Float32Array;
  const reg = out[REG].data as Float32Array;
  const scored = boxes.flatMap((b, i): Proposal[] =>
    prob[i] > RNET_MIN_PROB ? [{ ...b, score: prob[i], reg: [reg[4 * i], reg[4 * i + 1], reg[4 * i + 2], reg[4 * i + 3]] }] : [],
  );
  // As in facenet-pytorch: suppression on the boxes R-Net scored, then its refinement (sizes counted inclusively).
  const refined = nonMaxSuppression(scored, 0.7).map((p) => square(refine(p, 1)));
  if (refined.length === 0) return [];
  const faceProb = await nets.onet.run(crops(img, refined, ONET_INPUT), refined.length);
  const faces = refined.flatMap((b, i) => (faceProb[i] > ONET_MIN_PROB ? [{ ...b, score: faceProb[i] }] : []));
  // A box mostly inside a better one is a part of that face (facenet-pytorch's last suppression, over the smaller area).
  return nonMaxSuppression(faces, 0.7, intersectionOverSmaller);
}

/** Each box square shrunk to `side` x `side`, as one batch for R-Net or O-Net. */
function crops(img: GrayImage, boxes: Box[], side: number): Float32Array {
  return withMats((track) => cropBatch(grayMat(img, track), boxes.map((b) => boxTransform(b, 0, 0, side)), track, side));
}

/** The box moved by its regression; `inclusive` 1 counts sizes as facenet-pytorch's bbreg does (x2 - x1 + 1). */
function refine(p: Proposal, inclusive: 0 | 1): ScoredBox {
  if (!p.reg) return p;
  const [w, h] = [p.width + inclusive, p.height + inclusive];
  const [x1, y1] = [p.x + p.reg[0] * w, p.y + p.reg[1] * h];
  const [x2, y2] = [p.x + p.width + p.reg[2] * w, p.y + p.height + p.reg[3] * h];
  return { x: x1, y: y1, width: x2 - x1, height: y2 - y1, score: p.score };
}

/**
 * The image at each scale, as P-Net's raw gray input; each level is shrunk (INTER_AREA) from the one before, so
 * the photo itself is read once.
 */
function pyramid(img: GrayImage, scales: number[]): { data: Float32Array; width: number; height: number; scale: number }[] {
  return withMats((track) => {
    const c = cv();
    let src: CvMat = grayMat(img, track);
    return scales.map((s) => {
      const width = Math.max(1, Math.ceil(img.width * s));
      const height = Math.max(1, Math.ceil(img.height * s));
      const out: CvMat = track(new c.Mat());
      c.resize(src, out, new c.Size(width, height), 0, 0, c.INTER_AREA);
      src = out;
      return { data: Float32Array.from(out.data as Uint8Array), width, height, scale: s };
    });
  });
}

/** P-Net's windows scoring at least PNET_MIN_PROB, in image pixels, with their regression. */
function windows(probT: ort.Tensor, regT: ort.Tensor, scale: number): Proposal[] {
  const [, rows, cols] = probT.dims;
  const prob = probT.data as Float32Array;
  const reg = regT.data as Float32Array;
  const plane = rows * cols;
  const found: Proposal[] = [];
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      const i = y * cols + x;
      if (prob[i] < PNET_MIN_PROB) continue;
      const x1 = Math.floor((STRIDE * x + 1) / scale);
      const y1 = Math.floor((STRIDE * y + 1) / scale);
      const width = Math.floor((STRIDE * x + CELL) / scale) - x1;
      const height = Math.floor((STRIDE * y + CELL) / scale) - y1;
      found.push({ x: x1, y: y1, width, height, score: prob[i], reg: [reg[i], reg[plane + i], reg[2 * plane + i], reg[3 * plane + i]] });
    }
  }
  return found;
}

/** The square of the larger side about the same centre (facenet-pytorch's rerec). */
function square(b: ScoredBox): ScoredBox {
  const side = Math.max(b.width, b.height);
  return { x: b.x + b.width / 2 - side / 2, y: b.y + b.height / 2 - side / 2, width: side, height: side, score: b.score };
}
