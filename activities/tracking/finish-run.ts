import type { MlflowClient, RunStatus } from '../../lib/mlflow';

/**
 * Marks a run terminal unless it already is: a retry after the first attempt finished the run must not turn
 * FINISHED back into something else or move its end time.
 */
export async function finishRun(client: MlflowClient, runId: string, status: Extract<RunStatus, 'FINISHED' | 'FAILED' | 'KILLED'> = 'FINISHED'): Promise<void> {
  const run = await client.getRun(runId);
  if (run.info.status === 'FINISHED' || run.info.status === 'FAILED' || run.info.status === 'KILLED') return;
  await client.updateRun(runId, status);
}
