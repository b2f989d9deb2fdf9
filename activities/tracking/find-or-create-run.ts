import type { MlflowClient, Run, Tags } from '../../lib/mlflow';
import { RUN_KEY_TAG, filterLiteral } from './run-key';

export interface FindOrCreateRunOptions {
  experimentId: string;
  /** Deterministic per workflow and stage (e.g. `<workflowId>/train`), so a retried activity finds its run. */
  runKey: string;
  runName?: string;
  tags?: Tags;
}

/**
 * The run tagged `ferops.run_key = runKey`, created when none exists. A retried activity therefore continues
 * the run of its first attempt instead of leaving a half-filled duplicate. Temporal runs one attempt of an
 * activity at a time, so the search-then-create window is not raced by ourselves. When several runs carry the
 * key (made by hand, or by an older client), the oldest wins.
 */
export async function findOrCreateRun(client: MlflowClient, o: FindOrCreateRunOptions): Promise<{ run: Run; created: boolean }> {
  if (!o.runKey.trim()) throw new Error('findOrCreateRun: runKey must be a non-empty string');
  const oldest = () => findRunByKey(client, o.experimentId, o.runKey);
  const found = await oldest();
  if (found) return { run: found, created: false };
  const run = await client.createRun({
    experimentId: o.experimentId,
    runName: o.runName,
    tags: { ...o.tags, [RUN_KEY_TAG]: o.runKey },
  });
  // If the create request was retried after its answer was lost, two runs now carry the key; settle on the
  // oldest, which every later lookup returns too.
  const winner = (await oldest()) ?? run;
  return { run: winner, created: winner.info.run_id === run.info.run_id };
}

/** The oldest run tagged `ferops.run_key = runKey` in the experiment, or undefined. */
export async function findRunByKey(client: MlflowClient, experimentId: string, runKey: string): Promise<Run | undefined> {
  const [oldest] = await client.searchRuns({
    experimentIds: [experimentId],
    filter: `tags.\`${RUN_KEY_TAG}\` = ${filterLiteral(runKey)}`,
    orderBy: ['attributes.start_time ASC'],
    maxResults: 1,
  });
  return oldest;
}
