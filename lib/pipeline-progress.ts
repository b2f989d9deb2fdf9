/** What the `progress` query of a trainingPipeline returns. Pure types, shared by workflows and the CLI. */
export const STAGES = ['ingest', 'train', 'evaluate', 'register', 'rollout'] as const;
export type Stage = (typeof STAGES)[number];

export interface StageRecord {
  stage: Stage;
  status: 'running' | 'completed' | 'skipped' | 'failed' | 'cancelled';
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
 * The deepest message of a failure chain. Temporal wraps an activity's error (WorkflowFailedError, then
 * ActivityFailure, then the activity's ApplicationFailure): the wrappers say where it failed ("Activity task
 * failed"), only the innermost what. Pure, so that both the workflow and the CLI can use it.
 */
export function rootCauseMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
