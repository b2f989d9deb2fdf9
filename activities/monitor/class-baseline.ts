import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NUM_CLASSES } from '../../lib/labels';
import { isNotFound, type MlflowClient } from '../../lib/mlflow';

/** Written by the evaluate stage under the pipeline run: rows = true class, columns = predicted class. */
export const CONFUSION_ARTIFACT = 'evaluation/confusion.json';

/**
 * What the champion *predicted* on its test split: the column sums of its confusion matrix. Live classes are
 * predictions too, so comparing them with this measures drift; comparing them with the training labels would
 * also measure the model's own errors (a weak model would look drifted on training-like traffic).
 * Null when the run has no confusion matrix (then the caller falls back to the training labels).
 */
export async function predictedClassBaseline(mlflow: MlflowClient, artifactUri: string): Promise<number[] | null> {
  const dir = mkdtempSync(join(tmpdir(), 'ferops-confusion-'));
  try {
    const file = join(dir, 'confusion.json');
    try {
      await mlflow.downloadFile(artifactUri, CONFUSION_ARTIFACT, file);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    const { matrix } = JSON.parse(readFileSync(file, 'utf8')) as { matrix?: number[][] };
    if (!Array.isArray(matrix) || matrix.length !== NUM_CLASSES || matrix.some((r) => !Array.isArray(r) || r.length !== NUM_CLASSES)) {
      throw new Error(`${CONFUSION_ARTIFACT} of ${artifactUri} is not a ${NUM_CLASSES}x${NUM_CLASSES} matrix`);
    }
    const columns = Array.from({ length: NUM_CLASSES }, (_, c) => matrix.reduce((s, row) => s + row[c], 0));
    return columns.some((c) => c > 0) ? columns : null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
