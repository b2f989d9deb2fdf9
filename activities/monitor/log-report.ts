import type { MetricPoint, MlflowClient } from '../../lib/mlflow';
import { findOrCreateRun, logMetricsOnce } from '../tracking';
import type { LogDriftInput } from './types';

export const MONITORING_EXPERIMENT = 'ferops-monitoring';

/**
 * One MLflow run per monitored champion (`drift-<model>-v<version>`), holding a metric series over time: each
 * monitor run adds points at step = its start time in seconds, so the MLflow UI charts PSI against time.
 * Returns the run id.
 */
export async function logDriftReport(mlflow: MlflowClient, input: LogDriftInput): Promise<string | null> {
  const r = input.report;
  if (r.status !== 'checked') return null;
  const experimentId = await mlflow.getOrCreateExperiment(MONITORING_EXPERIMENT);
  const { run } = await findOrCreateRun(mlflow, {
    experimentId,
    runKey: `drift/${r.modelName}/${r.championVersion}`,
    runName: `drift-${r.modelName}-v${r.championVersion}`,
    tags: { 'ferops.model_name': r.modelName, 'ferops.model_version': r.championVersion, 'ferops.dataset_id': r.datasetId },
  });
  const step = Math.floor(input.at / 1000);
  const values: Record<string, number | null> = {
    psi_classes: r.psi.classes,
    psi_brightness: r.psi.brightness,
    psi_contrast: r.psi.contrast,
    psi_max: r.maxPsi,
    samples: r.samples,
    requests: r.requests,
    face_detection_rate: r.faceDetectionRate,
    mean_confidence: r.meanConfidence,
    drifted: r.drifted ? 1 : 0,
  };
  const points: MetricPoint[] = Object.entries(values)
    .filter((e): e is [string, number] => e[1] !== null)
    .map(([key, value]) => ({ key: `drift.${key}`, value, step, timestamp: input.at }));
  await logMetricsOnce(mlflow, run.info.run_id, points);
  await mlflow.setTags(run.info.run_id, { 'ferops.last_monitor_workflow': input.workflowId });
  return run.info.run_id;
}
