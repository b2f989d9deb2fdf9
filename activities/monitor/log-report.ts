import type { MetricPoint, MlflowClient, Run } from '../../lib/mlflow';
import { filterLiteral, findOrCreateRun, logMetricsOnce } from '../tracking';
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
  await keepOnlyChampionRunning(mlflow, experimentId, r.modelName, run);
  return run.info.run_id;
}

/**
 * The champion's series is the one running: the run of a champion it replaced gets no more points and is ended, or
 * the MLflow UI lists every past champion's run as running for ever; a champion back after a rollback runs again.
 */
async function keepOnlyChampionRunning(mlflow: MlflowClient, experimentId: string, modelName: string, champion: Run): Promise<void> {
  if (champion.info.status !== 'RUNNING') await mlflow.updateRun(champion.info.run_id, 'RUNNING');
  const running = await mlflow.searchRuns({
    experimentIds: [experimentId],
    filter: `tags.\`ferops.model_name\` = ${filterLiteral(modelName)} and attributes.status = 'RUNNING'`,
  });
  for (const replaced of running) if (replaced.info.run_id !== champion.info.run_id) await mlflow.updateRun(replaced.info.run_id, 'FINISHED');
}
