import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSplit } from '../../lib/dataset';
import { LABELS } from '../../lib/labels';
import { writeConfusionPng } from './confusion-png';
import { scoreClassification, type ClassificationScores } from './metrics';
import { measureLatency, openSession, predictAll } from './onnx-runner';

export type ModelVariant = 'fp32' | 'int8';

export interface EvaluateInput {
  /** A ferops model directory (model.onnx, model.int8.onnx, labels.json, ...). */
  modelDir: string;
  /** A dataset directory; its test split is used. */
  datasetUri: string;
  variant?: ModelVariant;
  /** The current champion's model directory, measured on the same data for the gate. */
  championModelDir?: string;
  outDir: string;
  batchSize?: number;
  /** Images timed one by one for the latency percentiles. */
  latencySamples?: number;
}

export interface ModelEvaluation extends ClassificationScores {
  modelFile: string;
  variant: ModelVariant;
  /** Per image at batch 1, in milliseconds. */
  latencyMs: { p50: number; p99: number; samples: number };
}

export interface EvaluationReport extends ModelEvaluation {
  datasetUri: string;
  champion?: ModelEvaluation;
  files: { confusionJson: string; confusionPng: string; perClassJson: string; championConfusionPng?: string };
}

const MODEL_FILES: Record<ModelVariant, string> = { fp32: 'model.onnx', int8: 'model.int8.onnx' };

/**
 * Measures a model on the dataset's test split exactly as the inference service runs it (onnxruntime-node, the
 * shared preprocessing), and the champion on the same images when one is given. Writes confusion.json,
 * confusion.png and per_class.json into outDir and returns the numbers (small JSON, fit for a workflow).
 */
export async function evaluateModel(input: EvaluateInput): Promise<EvaluationReport> {
  const variant = input.variant ?? 'fp32';
  if (!(variant in MODEL_FILES)) throw new Error(`unknown model variant "${variant}", expected fp32 or int8`);
  const test = readSplit(input.datasetUri, 'test');
  if (test.count === 0) throw new Error(`${input.datasetUri}: the test split is empty`);

  const measure = async (modelDir: string): Promise<ModelEvaluation> => {
    const modelFile = join(modelDir, MODEL_FILES[variant]);
    checkModelDir(modelDir, modelFile);
    const session = await openSession(modelFile);
    try {
      const { predicted, confidence } = await predictAll(session, test.images, test.count, input.batchSize);
      const latencyMs = await measureLatency(session, test.images, test.count, input.latencySamples);
      return { modelFile, variant, latencyMs, ...scoreClassification(test.labels, predicted, confidence) };
    } finally {
      await session.release();
    }
  };

  const candidate = await measure(input.modelDir);
  const champion = input.championModelDir ? await measure(input.championModelDir) : undefined;

  mkdirSync(input.outDir, { recursive: true });
  const files: EvaluationReport['files'] = {
    confusionJson: join(input.outDir, 'confusion.json'),
    confusionPng: join(input.outDir, 'confusion.png'),
    perClassJson: join(input.outDir, 'per_class.json'),
  };
  writeFileSync(
    files.confusionJson,
    JSON.stringify({ labels: LABELS, rows: 'true', columns: 'predicted', matrix: candidate.confusion, champion: champion?.confusion }, null, 2),
  );
  writeFileSync(files.perClassJson, JSON.stringify({ candidate: candidate.perClass, champion: champion?.perClass }, null, 2));
  await writeConfusionPng(candidate.confusion, `${variant} model: accuracy ${(candidate.accuracy * 100).toFixed(1)}% on ${test.count} test faces`, files.confusionPng);
  if (champion) {
    files.championConfusionPng = join(input.outDir, 'champion_confusion.png');
    await writeConfusionPng(champion.confusion, `champion: accuracy ${(champion.accuracy * 100).toFixed(1)}%`, files.championConfusionPng);
  }
  return { ...candidate, datasetUri: input.datasetUri, champion, files };
}

/** Fails with the missing piece named, before onnxruntime's less helpful message would. */
function checkModelDir(modelDir: string, modelFile: string): void {
  if (!existsSync(modelFile)) throw new Error(`model file ${modelFile} does not exist`);
  const labelsFile = join(modelDir, 'labels.json');
  if (!existsSync(labelsFile)) throw new Error(`${modelDir} has no labels.json`);
  const labels = JSON.parse(readFileSync(labelsFile, 'utf8')) as unknown;
  if (JSON.stringify(labels) !== JSON.stringify(LABELS)) {
    throw new Error(`${labelsFile} is ${JSON.stringify(labels)}, expected the FER2013 order ${JSON.stringify(LABELS)}`);
  }
}
