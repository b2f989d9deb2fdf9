import type { MlflowHttp } from './http';
import { getMetricHistory } from './runs';
import type { Metric } from './types';

/**
 * Drops the points whose (key, step) the run already holds. MLflow metrics only append, so a retried
 * log-batch whose first try reached the server (answer lost) would otherwise store every point twice.
 * Points repeated inside `points` itself are also reduced to the first one.
 */
export async function withoutLoggedPoints(http: MlflowHttp, runId: string, points: Metric[]): Promise<Metric[]> {
  const keys = [...new Set(points.map((p) => p.key))];
  const held = new Set<string>();
  for (const key of keys) for (const m of await getMetricHistory(http, runId, key)) held.add(`${m.key}\u0000${m.step}`);
  return points.filter((p) => {
    const id = `${p.key}\u0000${p.step}`;
    if (held.has(id)) return false;
    held.add(id);
    return true;
  });
}
