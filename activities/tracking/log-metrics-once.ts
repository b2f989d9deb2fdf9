import type { MetricPoint, MlflowClient } from '../../lib/mlflow';
import { withoutLoggedPoints } from '../../lib/mlflow/metric-dedup';
import { toMetric } from '../../lib/mlflow/runs';

/**
 * Logs `points`, skipping every (key, step) the run already holds. For activities that re-log a whole history
 * on retry (e.g. per-epoch metrics read back from a trainer's output): the second attempt adds nothing twice.
 * Returns how many points were actually sent.
 */
export async function logMetricsOnce(client: MlflowClient, runId: string, points: MetricPoint[]): Promise<number> {
  const fresh = await withoutLoggedPoints(client.http, runId, points.map(toMetric));
  if (fresh.length > 0) await client.logBatch(runId, { metrics: fresh });
  return fresh.length;
}
