/**
 * Names shared by workflows, the worker, the CLI and the stack. Pure constants: workflow code imports this.
 */
export const TASK_QUEUE = 'ferops-pipeline';
/** Training runs on its own queue so GPU hosts can serve it alone. */
export const TRAINING_TASK_QUEUE = 'ferops-training';

/** Custom search attributes (name -> Temporal type) registered by the stack; they make runs findable in the UI. */
export const SEARCH_ATTRIBUTES = {
  FeropsDatasetHash: 'Keyword',
  FeropsModelName: 'Keyword',
  FeropsModelVersion: 'Keyword',
  FeropsStage: 'Keyword',
} as const;

/**
 * Workflow id scheme. A pipeline's id is derived from what it trains (model name + a hash of its input), so
 * starting the same pipeline twice finds the running one instead of training twice; `--id` overrides it.
 */
export const pipelineWorkflowId = (modelName: string, inputHash: string): string => `train-${modelName}-${inputHash}`;
export const rolloutWorkflowId = (pipelineId: string): string => `${pipelineId}/rollout`;
