import { cropStats } from '../../../lib/drift';
import { encodePng48 } from '../../../lib/face-png';
import { LABELS } from '../../../lib/labels';
import { facesToTensorData, softmax } from '../../../lib/preprocess';
import type { ServiceContext } from '../context';
import { AppError, toAppError } from '../errors';
import { decodeGray } from '../runtime/decode';
import type { AlignedFace, Alignment, Box } from '../runtime/faces';
import type { LoadedModel } from '../runtime/model';
import type { Route } from '../runtime/slots';

export interface PredictInput {
  image: Buffer;
  detect: boolean;
  /** Return each face's aligned 48x48 crop as a PNG data URL (for the try-it page; off by default). */
  crops?: boolean;
  /** The small-face search's smallest face for this photo (0: none); FEROPS_DETECT_MIN_FACE when absent. */
  minFace?: number;
  routeKey?: string;
  requestId: string;
}

export interface FacePrediction {
  box: Box;
  alignment: Alignment;
  /** The face verifier's probability that the box holds a face; null when none ran (haar detector, detect=false). */
  faceScore: number | null;
  label: string;
  confidence: number;
  probabilities: Record<string, number>;
  /** The aligned 48x48 grayscale crop the model saw, as `data:image/png;base64,...`; only with `crops: true`. */
  crop?: string;
}

export interface PredictOutput {
  requestId: string;
  modelVersion: string;
  slot: string;
  faces: FacePrediction[];
  reason?: 'no_face_detected';
  timingsMs: { decode: number; detect: number; align: number; infer: number; total: number };
  /** The fleet's desired-state generation that routed the request (a header, not part of the body). */
  generation?: number;
}

/**
 * decode -> detect + align -> classify, on the model the request was routed to. The route's model is held for
 * the whole request (and the shadow model until its comparison is done), so a concurrent swap cannot touch it.
 */
export async function predict(ctx: ServiceContext, input: PredictInput): Promise<PredictOutput> {
  const route = ctx.slots.route(input.routeKey);
  const t0 = performance.now();
  let shadowHandedOff = false;
  try {
    const image = await decodeGray(input.image, ctx.config.maxPixels);
    const t1 = performance.now();
    const found = await ctx.faces.find(image, input.detect, input.minFace);
    const t2 = performance.now();
    const pixels = facesToTensorData(found.faces.map((f) => f.pixels));
    const logits = await inferOn(route.model, pixels, found.faces.length);
    const t3 = performance.now();
    if (route.shadow) {
      shadowHandedOff = true;
      void compareShadow(ctx, route.shadow, pixels, logits, route.generation);
    }
    const faces = found.faces.map((f, i) => toPrediction(f, logits[i]));
    const timingsMs = {
      decode: ms(t1 - t0),
      detect: ms(found.detectMs),
      align: ms(t2 - t1 - found.detectMs), // alignment plus crop and matrix bookkeeping
      infer: ms(t3 - t2),
      total: ms(t3 - t0),
    };
    observe(ctx, route, faces, timingsMs, found.faces.map((f) => f.pixels), input.requestId);
    if (input.crops) await attachCrops(faces, found.faces.map((f) => f.pixels));
    return {
      requestId: input.requestId,
      modelVersion: route.model.info.version,
      slot: route.slot,
      ...(route.generation === null ? {} : { generation: route.generation }),
      faces,
      ...(faces.length === 0 ? { reason: 'no_face_detected' as const } : {}),
      timingsMs,
    };
  } catch (err) {
    const appErr = toAppError(err);
    // Bad input is the client's doing, not the model's: only server-side failures count against a slot.
    if (appErr.status >= 500) {
      ctx.stats.record({ slot: route.slot, version: route.model.info.version, generation: route.generation, ok: false, latencyMs: performance.now() - t0, classes: [], confidenceSum: 0 });
    }
    ctx.metrics.requests.inc({ slot: route.slot, version: route.model.info.version, status: String(appErr.status) });
    throw appErr;
  } finally {
    route.model.release();
    if (route.shadow && !shadowHandedOff) route.shadow.release();
  }
}

/** Encoded after the timings are taken, so asking for crops does not change what the stage timings measure. */
async function attachCrops(faces: FacePrediction[], crops: Uint8Array[]): Promise<void> {
  const pngs = await Promise.all(crops.map(encodePng48));
  pngs.forEach((png, i) => (faces[i].crop = `data:image/png;base64,${png.toString('base64')}`));
}

async function inferOn(model: LoadedModel, pixels: Float32Array, count: number): Promise<Float32Array[]> {
  try {
    return await model.infer(pixels, count);
  } catch (err) {
    throw new AppError(500, 'inference_failed', `model ${model.info.version} failed to run`, true, { cause: err });
  }
}

function toPrediction({ box, alignment, faceScore }: AlignedFace, logits: Float32Array): FacePrediction {
  const probs = softmax(logits);
  let top = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i] > probs[top]) top = i;
  return {
    box,
    alignment,
    faceScore,
    label: LABELS[top],
    confidence: round4(probs[top]),
    probabilities: Object.fromEntries(LABELS.map((l, i) => [l, round4(probs[i])])),
  };
}

function observe(
  ctx: ServiceContext,
  route: Route,
  faces: FacePrediction[],
  t: PredictOutput['timingsMs'],
  crops: Uint8Array[],
  requestId: string,
): void {
  const { metrics } = ctx;
  const version = route.model.info.version;
  metrics.requests.inc({ slot: route.slot, version, status: '200' });
  for (const stage of ['decode', 'detect', 'align', 'infer'] as const) metrics.stageSeconds.observe({ stage }, t[stage] / 1000);
  metrics.totalSeconds.observe({ slot: route.slot }, t.total / 1000);
  metrics.facesPerImage.observe(faces.length);
  if (faces.length === 0) metrics.noFace.inc();
  for (const f of faces) {
    metrics.predictions.inc({ class: f.label, slot: route.slot });
    metrics.confidence.observe({ slot: route.slot }, f.confidence);
  }
  const classes = faces.map((f) => LABELS.indexOf(f.label as (typeof LABELS)[number]));
  ctx.stats.record({
    slot: route.slot,
    version,
    generation: route.generation,
    ok: true,
    latencyMs: t.total,
    classes,
    confidenceSum: faces.reduce((s, f) => s + f.confidence, 0),
    crops: crops.map(cropStats),
  });
  // Crops are face images: kept (in memory, bounded) only when the operator opted in with FEROPS_KEEP_CROPS.
  ctx.recent.remember(requestId, { modelVersion: version, slot: route.slot, classes, ...(ctx.config.keepCrops ? { crops } : {}) });
}

/** Runs the canary on the same faces after the stable answer is ready; failures only count, never surface. */
async function compareShadow(ctx: ServiceContext, shadow: LoadedModel, pixels: Float32Array, stable: Float32Array[], generation: number | null): Promise<void> {
  try {
    if (stable.length === 0) return;
    const rows = await shadow.infer(pixels, stable.length);
    const agreed = ctx.stats.recordShadow({ stable: stable.map(argmax), canary: rows.map(argmax) }, generation);
    ctx.metrics.shadowCompared.inc({ agreed: 'true' }, agreed);
    ctx.metrics.shadowCompared.inc({ agreed: 'false' }, rows.length - agreed);
  } catch (err) {
    ctx.stats.recordShadow('failed', generation);
    ctx.logger.error('shadow inference failed', { version: shadow.info.version, error: (err as Error).message });
  } finally {
    shadow.release();
  }
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

const ms = (x: number) => Math.round(x * 100) / 100;
const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
