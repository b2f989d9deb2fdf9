import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type WorkflowExecutionStatusName } from '@temporalio/client';
import type { MlflowClient, Run } from '../../lib/mlflow';
import { rootCauseMessage } from '../../lib/pipeline-progress';
import { WORKFLOW_ID_TAG } from '../tracking';
import type { PipelineRunContext } from '../pipeline/pipeline-run';
import { endPipelineRun } from '../pipeline/run-status';
import type { PipelineOutcome } from '../types';

/**
 * How the pipeline ended, for a RUNNING run whose workflow is in `status` (undefined: Temporal no longer has it), or
 * undefined to leave the run as it is. A terminated or timed-out workflow runs no code of its own, so nothing else
 * ever ends its run; a failed or cancelled one ends it itself, unless MLflow was away for all of closePipelineRun's
 * retries. A completed pipeline ended its run at register, and a running one (a reset included) still owns it.
 */
export function outcomeFor(status: WorkflowExecutionStatusName | undefined): PipelineOutcome | undefined {
  switch (status) {
    case undefined: return 'lost';
    case 'TERMINATED': return 'terminated';
    case 'TIMED_OUT': return 'timed-out';
    case 'FAILED': return 'failed';
    case 'CANCELLED': return 'cancelled';
    default: return undefined;
  }
}

export interface ClosedRun { runId: string; workflowId: string; outcome: PipelineOutcome; reason: string }

/**
 * closeAbandonedPipelineRuns (run by the housekeeping workflow): ends every RUNNING pipeline run of the experiment
 * whose workflow has ended without ending it, with the outcome and reason in the same tags closePipelineRun sets.
 * Without it, a pipeline terminated from the Temporal UI showed as running in the MLflow UI for ever.
 */
export function createCloseAbandonedPipelineRunsActivity(run: PipelineRunContext) {
  return async function closeAbandonedPipelineRuns(): Promise<{ closed: ClosedRun[] }> {
    const experiment = await run.mlflow.getExperimentByName(run.experimentName);
    if (!experiment) return { closed: [] };
    const closed: ClosedRun[] = [];
    for (const r of await runningPipelineRuns(run.mlflow, experiment.experiment_id)) {
      const workflowId = r.data.tags!.find((t) => t.key === WORKFLOW_ID_TAG)!.value;
      const end = await workflowEnd(workflowId);
      const outcome = outcomeFor(end.status);
      if (!outcome) continue;
      await endPipelineRun(run.mlflow, r.info.run_id, outcome, end.reason);
      closed.push({ runId: r.info.run_id, workflowId, outcome, reason: end.reason });
    }
    return { closed };
  };
}

/** Runs marked as a pipeline's (the workflow id tag) that MLflow shows as running. */
async function runningPipelineRuns(mlflow: MlflowClient, experimentId: string): Promise<Run[]> {
  const running = await mlflow.searchRuns({ experimentIds: [experimentId], filter: "attributes.status = 'RUNNING'" });
  return running.filter((r) => r.data.tags?.some((t) => t.key === WORKFLOW_ID_TAG && t.value));
}

/**
 * Asks Temporal, through the worker's own client, how the workflow ended (status undefined: not found); its failure's
 * deepest message is the reason.
 */
async function workflowEnd(workflowId: string): Promise<{ status: WorkflowExecutionStatusName | undefined; reason: string }> {
  const handle = Context.current().client.workflow.getHandle(workflowId);
  try {
    const { status } = await handle.describe();
    if (status.name === 'RUNNING') return { status: status.name, reason: '' };
    const reason = await handle.result().then(() => '', (err: unknown) => rootCauseMessage(err));
    return { status: status.name, reason: reason || `the pipeline's workflow ended ${status.name.toLowerCase().replace('_', ' ')}` };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { status: undefined, reason: `its workflow ${workflowId} is no longer in Temporal` };
    throw err;
  }
}
