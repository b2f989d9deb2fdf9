import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readSplit } from '../../lib/dataset';
import { LABELS } from '../../lib/labels';
import { openClassifierSession } from '../../lib/onnx/classifier-session';
import { readModelFile, readModelLabels, type ModelVariant } from '../../lib/onnx/model-dir';
import { writeConfusionPng } from './confusion-png';
import { scoreClassification, type ClassificationScores } from './metrics';
import { measureLatency, predictAll } from './onnx-runner';

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

/**
 * Measures a model on the dataset's test split exactly as the inference service runs it: the service's loader
 * (lib/onnx: same checks, session options and thread count) and the shared preprocessing; the champion on the
 * same images when one is given. Writes confusion.json, confusion.png and per_class.json into outDir and returns
 * the numbers (small JSON, fit for a workflow).
 */
export async function evaluateModel(input: EvaluateInput): Promise<EvaluationReport> {
  const variant = input.variant ?? 'fp32';
  const test = readSplit(input.datasetUri, 'test');
  if (test.count === 0) throw new Error(`${input.datasetUri}: the test split is empty`);

  const measure = async (modelDir: string): Promise<ModelEvaluation> => {
    await readModelLabels(modelDir);
    const { file: modelFile, bytes } = await readModelFile(modelDir, variant, modelDir);
    // Thread count 0 = automatic, the service's default (FEROPS_ORT_THREADS), so latency is measured as served.
    const { session } = await openClassifierSession(bytes, 0, basename(modelFile));
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
