import type { MlflowClient, Run } from '../../lib/mlflow';
import { tagValue } from '../register/promote';
import { findRunByKey } from '../tracking';
import type { ClosePipelineRunInput, PipelineOutcome } from '../types';
import type { PipelineRunContext } from './pipeline-run';

export const OUTCOME_TAG = 'ferops.outcome';
export const FAILURE_TAG = 'ferops.failure';

/**
 * closePipelineRun: ends the MLflow run of a pipeline that failed or was cancelled, as FAILED or KILLED with the
 * reason in a tag. Register ends a run that went well, so without this the MLflow UI showed such a run as running
 * for ever. A pipeline that failed before any run was made has none to close; one that got past register is left.
 */
export function createClosePipelineRunActivity(run: PipelineRunContext) {
  return async function closePipelineRun(input: ClosePipelineRunInput): Promise<{ closed: boolean }> {
    const experiment = await run.mlflow.getExperimentByName(run.experimentName);
    const found = experiment && (await findRunByKey(run.mlflow, experiment.experiment_id, input.workflowId));
    if (!found || found.info.status === 'FINISHED') return { closed: false };
    await endPipelineRun(run.mlflow, found.info.run_id, input.outcome, input.reason);
    return { closed: true };
  };
}

/** Ends the run with how and why: KILLED when the pipeline was stopped from outside, FAILED otherwise. */
export async function endPipelineRun(mlflow: MlflowClient, runId: string, outcome: PipelineOutcome, reason: string): Promise<void> {
  await mlflow.setTags(runId, { [OUTCOME_TAG]: outcome, [FAILURE_TAG]: tagValue(reason) });
  await mlflow.updateRun(runId, outcome === 'cancelled' || outcome === 'terminated' ? 'KILLED' : 'FAILED');
}

/** Sets the run RUNNING again if a failed or cancelled execution ended it: the pipeline was reset and goes on in it. */
export async function reopenPipelineRun(mlflow: MlflowClient, run: Run): Promise<void> {
  if (run.info.status === 'FAILED' || run.info.status === 'KILLED') await markPipelineRun(mlflow, run, 'RUNNING');
}

/**
 * Sets the pipeline's run (as the caller last read it) RUNNING or FINISHED, unless it is already, and drops what
 * closePipelineRun recorded: a pipeline that failed or was cancelled and is then reset (the Temporal UI's Reset runs
 * it again under its id) goes on in the same run, which must not end up FINISHED while its tags say it failed.
 */
export async function markPipelineRun(mlflow: MlflowClient, run: Run, status: 'RUNNING' | 'FINISHED'): Promise<void> {
  const { info, data } = run;
  if (info.status === status) return;
  for (const key of [OUTCOME_TAG, FAILURE_TAG]) if (data.tags?.some((t) => t.key === key)) await mlflow.deleteTag(info.run_id, key);
  await mlflow.updateRun(info.run_id, status);
}
