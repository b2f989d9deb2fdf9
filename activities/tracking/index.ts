export { findOrCreateRun, findRunByKey, type FindOrCreateRunOptions } from './find-or-create-run';
export { logMetricsOnce } from './log-metrics-once';
export { DATASET_HASH_TAG, RUN_KEY_TAG, WORKFLOW_ID_TAG, filterLiteral } from './run-key';
