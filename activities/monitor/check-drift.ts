import { ApplicationFailure } from '@temporalio/common';
import { compareFeatures } from '../../lib/drift';
import type { MlflowClient } from '../../lib/mlflow';
import { loadBaseline } from './baseline';
import { predictedClassBaseline } from './class-baseline';
import type { Fleet } from '../../lib/inference-admin/fleet';
import type { DriftCheckInput, DriftReport } from './types';

export const DATASET_URI_TAG = 'ferops.dataset_uri';

export interface CheckDriftDeps {
  mlflow: MlflowClient;
  modelName: string;
  /** Every inference replica: live statistics are merged over all of them. */
  fleet: Pick<Fleet, 'drift'>;
  baselineCacheDir: string;
}

/** Live stable-slot statistics against the champion's training baseline: PSI per feature and the verdict. */
export async function checkDrift(deps: CheckDriftDeps, input: DriftCheckInput): Promise<DriftReport> {
  const champion = await deps.mlflow.getModelVersionByAlias(deps.modelName, 'champion');
  if (!champion) return { status: 'no_champion', modelName: deps.modelName };
  if (!champion.run_id) throw ApplicationFailure.nonRetryable(`${deps.modelName} v${champion.version} has no run: its training data is unknown`, 'NoBaseline');
  const run = await deps.mlflow.getRun(champion.run_id);
  const datasetUri = run.data.tags?.find((t) => t.key === DATASET_URI_TAG)?.value;
  if (!datasetUri) {
    throw ApplicationFailure.nonRetryable(`run ${champion.run_id} of ${deps.modelName} v${champion.version} has no ${DATASET_URI_TAG} tag`, 'NoBaseline');
  }
  const baseline = loadBaseline(datasetUri, deps.baselineCacheDir);
  const predicted = await predictedClassBaseline(deps.mlflow, run.info.artifact_uri);
  const live = (await deps.fleet.drift(input.windowSeconds)).slots.stable;
  const comparison = compareFeatures(
    { ...baseline.features, classes: predicted ?? baseline.features.classes },
    live.features,
    { psi: input.psiThreshold, minSamples: input.minSamples },
  );
  return {
    status: 'checked',
    modelName: deps.modelName,
    championVersion: champion.version,
    stableVersion: live.version,
    datasetId: baseline.datasetId,
    classBaseline: predicted ? 'champion_predictions' : 'training_labels',
    requests: live.requests,
    faceDetectionRate: live.faceDetectionRate,
    meanConfidence: live.meanConfidence,
    ...comparison,
  };
}
