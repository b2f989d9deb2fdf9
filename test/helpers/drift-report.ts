import type { DriftReport } from '../../activities/monitor';
import { compareFeatures, emptyFeatures } from '../../lib/drift';

/**
 * A report as checkDrift makes it, for tests that script the drift check: `drifted` picks a live brightness
 * histogram far from the baseline, else one equal to it (PSI threshold 0.25, 70 requests, enough samples).
 */
export function scriptedDriftReport(o: { modelName: string; championVersion: string; datasetId: string; drifted: boolean }): DriftReport {
  const baseline = emptyFeatures();
  baseline.classes = [10, 10, 10, 10, 10, 10, 10];
  baseline.brightness[5] = 70;
  baseline.contrast[2] = 70;
  const live = o.drifted ? { ...baseline, brightness: [70, 0, 0, 0, 0, 0, 0, 0, 0, 0] } : baseline;
  return {
    status: 'checked', modelName: o.modelName, championVersion: o.championVersion, stableVersion: o.championVersion, datasetId: o.datasetId,
    classBaseline: 'training_labels', requests: 70, faceDetectionRate: 1, meanConfidence: 0.7,
    ...compareFeatures(baseline, live, { psi: 0.25, minSamples: 50 }),
  };
}
