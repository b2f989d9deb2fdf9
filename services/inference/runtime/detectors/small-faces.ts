import { existsSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { boxTransform, cropWarp, grayMat } from '../crop';
import { cv, type CvMat, withMats } from '../cv';
import type { GrayImage } from '../decode';
import type { Box } from './detector';

/**
 * Small faces with MTCNN (weights from PyPI facenet-pytorch, converted to ONNX by infra/face-detector/convert_mtcnn.py):
 * P-Net slides a 12x12 window (stride 2) over an image pyramid and proposes faces, R-Net re-scores and refines each
 * proposal on a 24x24 crop, O-Net confirms each on a 48x48 crop. The pyramid only spans the face sizes the Tiny Face
 * Detector is too coarse for (its smallest anchor is ~50 px of its input, which is the photo scaled to at most
 * 512 px), from `minFace` up (docs/inference.md#landmarks-and-alignment). Thresholds and box arithmetic follow
 * facenet-pytorch's detect_face.
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
/**
 * Most pixels the pyramid's first (largest) level may hold: on a large photo the smallest face searched grows
 * instead, so the cost stays near a 640x480 photo's (each level costs in proportion to its pixels).
 */
const MAX_LEVEL_PIXELS = 80_000;
/** Most P-Net proposals R-Net checks (best first): bounds a textured photo's cost. */
const MAX_PROPOSALS = 64;
/** Faces at least this many pixels of the Tiny Face Detector's input are left to it. */
export const TINY_DETECTOR_MIN_FACE = 48;
const INPUT = 'crops';
const PROB = 'face_prob';
const REG = 'box_reg';

export interface SmallFaceNets {
  pnet: ort.InferenceSession;
  rnet: ort.InferenceSession;
  onet: ort.InferenceSession;
  close(): Promise<void>;
}

/** Loads MTCNN's three nets from `dir` (bootstrap converts them beside the detector); a missing file says how to make it. */
export async function loadSmallFaceNets(dir: string): Promise<SmallFaceNets> {
  const open = async (net: string) => {
    const file = `${dir}/mtcnn_${net}.onnx`;
    if (!existsSync(file)) {
      throw new Error(`small-face model ${file} not found: run \`npm run bootstrap\` (it converts MTCNN from PyPI facenet-pytorch), or unset FEROPS_DETECT_MIN_FACE`);
    }
    // One thread: detection runs on several worker threads at once, each with its own sessions.
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    if (!session.inputNames.includes(INPUT) || !session.outputNames.includes(PROB) || (net !== 'onet' && !session.outputNames.includes(REG))) {
      await session.release();
      throw new Error(`${file} is not the converted MTCNN ${net} (inputs ${session.inputNames}, outputs ${session.outputNames})`);
    }
    return session;
  };
  const opened: ort.InferenceSession[] = [];
  const close = async () => void (await Promise.all(opened.map((s) => s.release())));
  try {
    for (const net of ['pnet', 'rnet', 'onet']) opened.push(await open(net));
  } catch (err) {
    await close();
    throw err;
  }
  const [pnet, rnet, onet] = opened;
  return { pnet, rnet, onet, close };
}

/**
 * The pyramid's scales (level px per image px) for faces from `minFace` to `maxFace` image pixels: the first level
 * makes a `minFace` face fill P-Net's 12 px window, unless that level would exceed MAX_LEVEL_PIXELS.
 */
export function pyramidScales(width: number, height: number, minFace: number, maxFace: number): number[] {
  const scales: number[] = [];
  for (let s = Math.min(CELL / minFace, Math.sqrt(MAX_LEVEL_PIXELS / (width * height))); CELL / s <= maxFace; s *= PYRAMID_FACTOR) {
    if (Math.min(width, height) * s < CELL) break;
    scales.push(s);
  }
  return scales;
}

interface Proposal {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  /** The net's box regression: offsets of x1, y1, x2, y2 in units of the box's width and height. */
  reg?: [number, number, number, number];
}

/** Faces from `minFace` up to `maxFace` image pixels, as square boxes in image pixels with R-Net's score, best first. */
export async function findSmallFaces(img: GrayImage, nets: SmallFaceNets, minFace: number, maxFace: number): Promise<(Box & { score: number })[]> {
  let proposals: Proposal[] = [];
  for (const level of pyramid(img, pyramidScales(img.width, img.height, minFace, maxFace))) {
    const out = await nets.pnet.run({ [INPUT]: new ort.Tensor('float32', level.data, [1, 1, level.height, level.width]) });
    proposals.push(...nms(windows(out[PROB], out[REG], level.scale), 0.5));
  }
  proposals = nms(proposals, 0.7).slice(0, MAX_PROPOSALS);
  if (proposals.length === 0) return [];
  const boxes = proposals.map((p) => toBox(square(refine(p, 0))));
  const out = await nets.rnet.run({ [INPUT]: crops(img, boxes, RNET_INPUT) });
  const prob = out[PROB].data as Float32Array;
  const reg = out[REG].data as Float32Array;
  const scored: Proposal[] = [];
  boxes.forEach((b, i) => {
    const r = [reg[4 * i], reg[4 * i + 1], reg[4 * i + 2], reg[4 * i + 3]] as [number, number, number, number];
    if (prob[i] > RNET_MIN_PROB) scored.push({ x1: b.x, y1: b.y, x2: b.x + b.width, y2: b.y + b.height, score: prob[i], reg: r });
  });
  // As in facenet-pytorch: suppression on the boxes R-Net scored, then its refinement (sizes counted inclusively).
  const refined = nms(scored, 0.7).map((p) => toBox(square(refine(p, 1))));
  if (refined.length === 0) return [];
  const faceProb = (await nets.onet.run({ [INPUT]: crops(img, refined, ONET_INPUT) }))[PROB].data as Float32Array;
  const faces = refined.flatMap((b, i) => (faceProb[i] > ONET_MIN_PROB ? [{ x1: b.x, y1: b.y, x2: b.x + b.width, y2: b.y + b.height, score: faceProb[i] }] : []));
  // A box mostly inside a better one is a part of that face (facenet-pytorch's last suppression, over the smaller area).
  return nms(faces, 0.7, 'min').map((p) => ({ ...toBox(p), score: p.score }));
}

/** Each box square shrunk to `side` x `side`, as a batch for R-Net or O-Net. */
function crops(img: GrayImage, boxes: Box[], side: number): ort.Tensor {
  const plane = side * side;
  const data = new Float32Array(boxes.length * plane);
  withMats((track) => {
    const gray = grayMat(img, track);
    boxes.forEach((b, i) => data.set(cropWarp(gray, boxTransform(b, 0, 0, side), track, side), i * plane));
  });
  return new ort.Tensor('float32', data, [boxes.length, 1, side, side]);
}

/** The box moved by its regression; `inclusive` 1 counts sizes as facenet-pytorch's bbreg does (x2 - x1 + 1). */
function refine(p: Proposal, inclusive: 0 | 1): Proposal {
  if (!p.reg) return p;
  const w = p.x2 - p.x1 + inclusive;
  const h = p.y2 - p.y1 + inclusive;
  return { x1: p.x1 + p.reg[0] * w, y1: p.y1 + p.reg[1] * h, x2: p.x2 + p.reg[2] * w, y2: p.y2 + p.reg[3] * h, score: p.score };
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
      const x2 = Math.floor((STRIDE * x + CELL) / scale);
      const y2 = Math.floor((STRIDE * y + CELL) / scale);
      found.push({ x1, y1, x2, y2, score: prob[i], reg: [reg[i], reg[plane + i], reg[2 * plane + i], reg[3 * plane + i]] });
    }
  }
  return found;
}

/** The square of the larger side about the same centre (facenet-pytorch's rerec). */
function square(p: Proposal): Proposal {
  const side = Math.max(p.x2 - p.x1, p.y2 - p.y1);
  const cx = (p.x1 + p.x2) / 2;
  const cy = (p.y1 + p.y2) / 2;
  return { x1: cx - side / 2, y1: cy - side / 2, x2: cx + side / 2, y2: cy + side / 2, score: p.score };
}

const toBox = (p: Proposal): Box => ({ x: p.x1, y: p.y1, width: p.x2 - p.x1, height: p.y2 - p.y1 });

/** Greedy non-maximum suppression, best score first; overlap is over the union (IoU) or over the smaller box. */
function nms(boxes: Proposal[], limit: number, over: 'union' | 'min' = 'union'): Proposal[] {
  const kept: Proposal[] = [];
  const area = (p: Proposal) => (p.x2 - p.x1) * (p.y2 - p.y1);
  for (const p of [...boxes].sort((a, b) => b.score - a.score)) {
    const clear = kept.every((k) => {
      const inter = Math.max(0, Math.min(k.x2, p.x2) - Math.max(k.x1, p.x1)) * Math.max(0, Math.min(k.y2, p.y2) - Math.max(k.y1, p.y1));
      return inter / (over === 'min' ? Math.min(area(k), area(p)) : area(k) + area(p) - inter) <= limit;
    });
    if (clear) kept.push(p);
  }
  return kept;
}
