import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { encodePng48 } from '../../../lib/face-png';
import { LABELS } from '../../../lib/labels';
import type { InferenceConfig } from '../config';
import type { ServiceContext } from '../context';
import { AppError } from '../errors';
import type { Metrics } from '../metrics';
import type { FeedbackStore } from '../runtime/feedback-store';

/**
 * A label is a class name (any case, spaces around ignored: "Happy" from a script is meant as happy) or its index
 * (0..6, LABELS order); both become the name. Anything else is refused naming what is accepted.
 */
const labelSchema = z.preprocess(
  (v) => (typeof v === 'string' ? v.trim().toLowerCase() : v),
  z.union([z.enum(LABELS), z.number().int().min(0).max(LABELS.length - 1).transform((i) => LABELS[i])], {
    errorMap: () => ({ message: `expected one of ${LABELS.join(', ')}, or its index 0-${LABELS.length - 1}` }),
  }),
);

export const feedbackBody = z.object({
  requestId: z.string().min(1).max(200),
  /** Which face of the answer; may be left out when the answer had one face. */
  faceIndex: z.number().int().min(0).optional(),
  label: labelSchema,
}).strict();
export type FeedbackInput = z.infer<typeof feedbackBody>;
type LabelledFace = FeedbackInput & { faceIndex: number };

export interface FeedbackOutput {
  requestId: string;
  faceIndex: number;
  modelVersion: string;
  predicted: string;
  label: string;
  correct: boolean;
  /** Where the labelled crop was saved (FEROPS_KEEP_CROPS only; under crops/ only with FEROPS_FEEDBACK_CROPS_TRAINABLE). */
  cropPath?: string;
}

/**
 * A client's label: stored here when this replica made the prediction, else passed to the replica that did
 * (FEROPS_INFERENCE_DISCOVERY), which stores it.
 */
export async function submitFeedback(ctx: ServiceContext, input: FeedbackInput): Promise<FeedbackOutput> {
  if (ctx.peers && !ctx.recent.get(input.requestId)) return ctx.peers.forward(input);
  return labelServed(ctx, input);
}

/**
 * Joins a label to the answer this replica served, appends it to the durable log and updates live accuracy.
 * Only faces answered recently can be labelled: that is what ties a label to a model version.
 */
export async function labelServed(ctx: ServiceContext, given: FeedbackInput): Promise<FeedbackOutput> {
  const served = ctx.recent.get(given.requestId);
  if (!served) {
    throw new AppError(404, 'unknown_request', `no recent prediction ${given.requestId} (unknown, or older than ${ctx.config.feedbackTtlSeconds} s)`);
  }
  const input: LabelledFace = { ...given, faceIndex: faceIndexOf(given, served.classes.length) };
  if (served.labelled?.has(input.faceIndex)) {
    throw new AppError(409, 'already_labelled', `faceIndex ${input.faceIndex} of request ${input.requestId} already has feedback`);
  }
  (served.labelled ??= new Set()).add(input.faceIndex);
  const predicted = LABELS[served.classes[input.faceIndex]];
  const correct = predicted === input.label;
  try {
    await ctx.feedback.append({
      t: new Date().toISOString(),
      requestId: input.requestId,
      faceIndex: input.faceIndex,
      modelVersion: served.modelVersion,
      slot: served.slot,
      predicted,
      label: input.label,
      correct,
    });
  } catch (err) {
    served.labelled?.delete(input.faceIndex);
    throw new AppError(500, 'feedback_not_stored', 'feedback could not be stored', true, { cause: err });
  }
  ctx.metrics.feedback.inc({ version: served.modelVersion, correct: String(correct) });
  publishAccuracy(ctx.metrics, ctx.feedback);
  const crop = served.crops?.[input.faceIndex];
  const cropPath = crop ? await saveCrop(cropsDir(ctx.config), input, crop) : undefined;
  return { requestId: input.requestId, faceIndex: input.faceIndex, modelVersion: served.modelVersion, predicted, label: input.label, correct, ...(cropPath ? { cropPath } : {}) };
}

/**
 * Sets the accuracy gauge of every version in the retained log, and the counts a fleet sums; a version whose
 * labels all left with a rotated file loses its gauges rather than keep stale values.
 */
export function publishAccuracy(metrics: Metrics, store: FeedbackStore): void {
  for (const gauge of [metrics.feedbackAccuracy, metrics.feedbackLabelled, metrics.feedbackCorrect]) gauge.reset();
  for (const [v, acc] of store.accuracy()) {
    metrics.feedbackAccuracy.set({ version: v }, acc.correct / acc.total);
    metrics.feedbackLabelled.set({ version: v }, acc.total);
    metrics.feedbackCorrect.set({ version: v }, acc.correct);
  }
}

/**
 * Where labelled crops are saved. Anyone who can reach /v1/feedback can label, so a crop joins `crops/` (the
 * image-folder dataset a retraining, drift-triggered ones included, may be pointed at) only when the operator
 * opted in; otherwise it waits in `crops-unreviewed/`, same layout, for a person to check and move.
 */
export function cropsDir(config: Pick<InferenceConfig, 'feedbackDir' | 'feedbackCropsTrainable'>): string {
  return join(config.feedbackDir, config.feedbackCropsTrainable ? 'crops' : 'crops-unreviewed');
}

/**
 * The split a labelled crop goes to: 1 in 5 to test/, by a hash of its id, so the same crop always lands in the
 * same split and a model is never tested on a face it was trained on.
 */
/** The face a label is for: as given, or the only face of a one-face answer, so the usual photo needs no index. */
function faceIndexOf({ requestId, faceIndex }: FeedbackInput, faces: number): number {
  if (faceIndex === undefined && faces === 1) return 0;
  if (faceIndex === undefined) {
    throw new AppError(400, 'invalid_request', faces === 0
      ? `request ${requestId} found no face: there is nothing to label`
      : `request ${requestId} has ${faces} faces: say which with faceIndex (0-${faces - 1})`);
  }
  if (faceIndex >= faces) {
    throw new AppError(400, 'invalid_request', `request ${requestId} has ${faces} face(s); faceIndex ${faceIndex} is out of range`);
  }
  return faceIndex;
}

export function cropSplit(requestId: string, faceIndex: number): 'train' | 'test' {
  return createHash('sha256').update(`${requestId}/${faceIndex}`).digest()[0] % 5 === 0 ? 'test' : 'train';
}

/**
 * `<crops dir>/<train|test>/<label>/<requestId>-<face>.png`: the `<split>/<class>/` layout the image-folder
 * ingest source reads (val is carved from train), so `--dataset <feedback dir>/crops` trains on it.
 * Written to a temp name and renamed, so a crash never leaves half a PNG to be ingested.
 */
async function saveCrop(root: string, input: LabelledFace, crop: Uint8Array): Promise<string> {
  const dir = join(root, cropSplit(input.requestId, input.faceIndex), input.label);
  const safeId = input.requestId.replace(/[^\w.-]/g, '_');
  const path = join(dir, `${safeId}-${input.faceIndex}.png`);
  await mkdir(dir, { recursive: true });
  await writeFile(`${path}.tmp`, await encodePng48(crop));
  await rename(`${path}.tmp`, path);
  return path;
}
