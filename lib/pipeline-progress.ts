/** What the `progress` query of a trainingPipeline returns. Pure types, shared by workflows and the CLI. */
export const STAGES = ['ingest', 'train', 'evaluate', 'register', 'rollout'] as const;
export type Stage = (typeof STAGES)[number];

export interface StageRecord {
  stage: Stage;
  status: 'running' | 'completed' | 'skipped' | 'failed';
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
