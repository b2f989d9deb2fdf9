import type { MlflowClient, RunStatus } from '../../lib/mlflow';

type EndStatus = Extract<RunStatus, 'FINISHED' | 'FAILED' | 'KILLED'>;

export const hasEnded = (status: RunStatus): status is EndStatus => status === 'FINISHED' || status === 'FAILED' || status === 'KILLED';

/**
 * Marks a run terminal unless it already is: a retry after the first attempt finished the run must not turn
 * FINISHED back into something else or move its end time.
 */
export async function finishRun(client: MlflowClient, runId: string, status: EndStatus = 'FINISHED'): Promise<void> {
  const run = await client.getRun(runId);
  if (hasEnded(run.info.status)) return;
  await client.updateRun(runId, status);
}
