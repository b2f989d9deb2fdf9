import type { DriftComparison } from '../../lib/drift';

/** Workflow <-> monitor activities contract: small JSON only (histograms of 7-10 bins are small). */
export interface DriftCheckInput {
  /** Live statistics window of the inference service, seconds. */
  windowSeconds: number;
  psiThreshold: number;
  minSamples: number;
}

export type DriftReport =
  | { status: 'no_champion'; modelName: string }
  | ({
      status: 'checked';
      modelName: string;
      championVersion: string;
      /** The version the stable slot served during the window (normally the champion). */
      stableVersion: string | null;
      datasetId: string;
      /** What live predicted classes were compared with: the champion's test-split predictions when logged, else training labels. */
      classBaseline: 'champion_predictions' | 'training_labels';
      requests: number;
      faceDetectionRate: number | null;
      meanConfidence: number | null;
    } & DriftComparison);

export interface LogDriftInput {
  report: DriftReport;
  /** The monitor run's start time, ms: the metric step, so a retried log adds no second point. */
  at: number;
  workflowId: string;
}
