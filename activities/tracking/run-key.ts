/** Tag that marks an MLflow run or model version with the deterministic key of the stage that made it. */
export const RUN_KEY_TAG = 'ferops.run_key';
export const WORKFLOW_ID_TAG = 'ferops.workflow_id';
export const DATASET_HASH_TAG = 'ferops.dataset_hash';

/**
 * Quotes a value for an MLflow search filter. The filter grammar has no escape sequences, but takes either
 * quote character, so a value is quoted with the one it does not contain.
 */
export function filterLiteral(v: string): string {
  if (!v.includes("'")) return `'${v}'`;
  if (!v.includes('"')) return `"${v}"`;
  throw new Error(`cannot search MLflow for a value holding both quote characters: ${v}`);
}
