import { tagValue } from '../register/promote';
import { findRunByKey, hasEnded } from '../tracking';
import type { ClosePipelineRunInput } from '../types';
import type { PipelineRunContext } from './pipeline-run';

export const OUTCOME_TAG = 'ferops.outcome';
export const FAILURE_TAG = 'ferops.failure';

/**
 * closePipelineRun: ends the MLflow run of a pipeline that failed or was cancelled, as FAILED or KILLED with the
 * reason in a tag. Only register ends a run that went well, so without this the MLflow UI showed such a run as
 * running for ever. A pipeline that failed before any run was made has none to close; a run already ended is left.
 */
export function createClosePipelineRunActivity(run: PipelineRunContext) {
  return async function closePipelineRun(input: ClosePipelineRunInput): Promise<{ closed: boolean }> {
    const experiment = await run.mlflow.getExperimentByName(run.experimentName);
    const found = experiment && (await findRunByKey(run.mlflow, experiment.experiment_id, input.workflowId));
    if (!found || hasEnded(found.info.status)) return { closed: false };
    const runId = found.info.run_id;
    await run.mlflow.setTags(runId, { [OUTCOME_TAG]: input.outcome, [FAILURE_TAG]: tagValue(input.reason) });
    await run.mlflow.updateRun(runId, input.outcome === 'cancelled' ? 'KILLED' : 'FAILED');
    return { closed: true };
  };
}
