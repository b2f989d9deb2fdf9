/** Tag that marks an MLflow run or model version with the deterministic key of the stage that made it. */
export const RUN_KEY_TAG = 'ferops.run_key';
export const WORKFLOW_ID_TAG = 'ferops.workflow_id';
export const DATASET_HASH_TAG = 'ferops.dataset_hash';

/** Quotes a value for an MLflow search filter (single quotes, with embedded quotes escaped). */
export const filterLiteral = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
