/**
 * Names shared by workflows, the worker, the CLI and the stack. Pure constants: workflow code imports this.
 */
export const TASK_QUEUE = 'ferops-pipeline';
/** Training runs on its own queue so GPU hosts can serve it alone. */
export const TRAINING_TASK_QUEUE = 'ferops-training';
/**
 * How long a stopping worker lets its running pipeline activities finish (their worker's shutdownGraceTime); whatever
 * stops a worker (Compose, Kubernetes) must allow it longer before SIGKILL.
 */
export const PIPELINE_SHUTDOWN_GRACE_SECONDS = 45;

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
/**
 * A rollout of a version already registered (`ferops deploy`), named after the version it replaces (and `-now` for
 * one straight into stable): while one runs, the same command attaches to it (stable does not change until it
 * ends); once it has ended, the same command starts a new one.
 */
export const deployWorkflowId = (modelName: string, version: string, replacing: string | undefined, immediate = false): string =>
  `deploy-${modelName}-v${version}-over-${replacing === undefined ? 'none' : `v${replacing}`}${immediate ? '-now' : ''}`;

/** The Temporal Schedule that starts a driftMonitor run every interval (services/worker/schedules.ts). */
export const DRIFT_SCHEDULE_ID = 'ferops-drift-monitor';
/** Schedule-started runs get this id plus the server's timestamp suffix. */
export const DRIFT_MONITOR_WORKFLOW_ID = 'drift-monitor';
/** The Temporal Schedule that starts a housekeeping run every interval (services/worker/schedules.ts). */
export const HOUSEKEEPING_SCHEDULE_ID = 'ferops-housekeeping';
export const HOUSEKEEPING_WORKFLOW_ID = 'housekeeping';
/**
 * One retraining per drift episode: the id names the champion that drifted and is started with REJECT_DUPLICATE,
 * so drift reported again for the same champion never starts a second pipeline; a new champion opens a new episode.
 */
export const driftRetrainWorkflowId = (modelName: string, championVersion: string): string => `retrain-drift-${modelName}-v${championVersion}`;
/**
 * One rollout per model at a time: the rollout that runs this id's workflow holds the model's deployment. Temporal
 * runs at most one workflow per id, which is the compare-and-set the registry's desired-state tag lacks.
 */
export const deploymentLeaseId = (modelName: string): string => `deployment-lease/${modelName}`;
