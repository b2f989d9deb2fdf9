import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LABELS, NUM_CLASSES } from '../labels';
import { invalidModel } from './model-error';

export type ModelVariant = 'fp32' | 'int8';
export const MODEL_FILES: Record<ModelVariant, string> = { fp32: 'model.onnx', int8: 'model.int8.onnx' };

/** labels.json of a model directory, which must hold the 7 FER2013 labels in order. */
export async function readModelLabels(dir: string): Promise<string[]> {
  let raw: string;
  try {
    raw = await readFile(join(dir, 'labels.json'), 'utf8');
  } catch {
    throw invalidModel('labels.json is missing from the model directory');
  }
  let labels: unknown;
  try {
    labels = JSON.parse(raw);
  } catch {
    throw invalidModel('labels.json is not valid JSON');
  }
  if (!Array.isArray(labels) || labels.length !== NUM_CLASSES || labels.some((l, i) => l !== LABELS[i])) {
    throw invalidModel(`labels.json must be ${JSON.stringify(LABELS)}, got ${JSON.stringify(labels).slice(0, 200)}`);
  }
  return labels as string[];
}

/** The ONNX file of a variant, its bytes and sha256; `source` names the model in messages. */
export async function readModelFile(dir: string, variant: ModelVariant, source: string): Promise<{ file: string; bytes: Buffer; checksum: string }> {
  if (!(variant in MODEL_FILES)) throw invalidModel(`unknown model variant "${String(variant)}", expected fp32 or int8`);
  const file = join(dir, MODEL_FILES[variant]);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    if (variant === 'int8' && existsSync(join(dir, MODEL_FILES.fp32))) {
      // The trainer withholds an int8 file that does not agree with fp32 well enough (the run's ferops.int8 tags).
      throw invalidModel(`${source} has no int8 variant (its export withheld model.int8.onnx); serve it with FEROPS_MODEL_VARIANT=fp32`);
    }
    throw invalidModel(`${MODEL_FILES[variant]} not found in ${source}`);
  }
  return { file, bytes, checksum: createHash('sha256').update(bytes).digest('hex') };
}
