/** What the `progress` query of a trainingPipeline returns. Pure types, shared by workflows and the CLI. */
export const STAGES = ['ingest', 'train', 'evaluate', 'register', 'rollout'] as const;
export type Stage = (typeof STAGES)[number];

export interface StageRecord {
  stage: Stage;
  /** terminated / timed-out: never set by the workflow, which runs no code then; readers set them (`endedStages`). */
  status: 'running' | 'completed' | 'skipped' | 'failed' | 'cancelled' | 'terminated' | 'timed-out';
  /** What the stage did; for a failed stage, the deepest cause's message (what went wrong, not where). */
  detail?: string;
}

export interface PipelineProgress {
  stage: Stage | 'done';
  stages: StageRecord[];
  datasetId?: string;
  modelVersion?: string;
  /** Canary rollout decisions so far (filled by the child's result). */
  outcome?: string;
}

/**
 * The progress of a pipeline whose workflow is in `status`: a pipeline terminated or timed out runs no code as it
 * ends, so the stage it was in still reads running in its own progress; it reads terminated / timed-out here.
 */
export function endedStages(progress: PipelineProgress, status: string): PipelineProgress {
  const ended = status === 'TERMINATED' ? 'terminated' : status === 'TIMED_OUT' ? 'timed-out' : undefined;
  if (!ended) return progress;
  return { ...progress, stages: progress.stages.map((s) => (s.status === 'running' ? { ...s, status: ended } : s)) };
}

/**
 * The deepest message of a failure chain. Temporal wraps an activity's error (WorkflowFailedError, then
 * ActivityFailure, then the activity's ApplicationFailure): the wrappers say where it failed ("Activity task
 * failed"), only the innermost what. Pure, so that both the workflow and the CLI can use it.
 */
export function rootCauseMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
