import type { PipelineRunContext } from '../pipeline/pipeline-run';
import { createCloseAbandonedPipelineRunsActivity } from './abandoned-runs';
import { anyRolloutRunning } from './running-rollouts';

export type { ClosedRun } from './abandoned-runs';

/** The activities of the housekeeping workflow that read Temporal itself, through the worker's client. */
export function createHousekeepingActivities(run: PipelineRunContext) {
  return { closeAbandonedPipelineRuns: createCloseAbandonedPipelineRunsActivity(run), anyRolloutRunning };
}
