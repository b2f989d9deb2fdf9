import type { MlflowClient } from '../../lib/mlflow';
import { CHALLENGER } from './register-model';

export const CHAMPION = 'champion';
export const PREVIOUS = 'previous';

/**
 * The most characters a reason or verdict keeps as a version tag: MLflow refuses longer values, and the rollout's
 * rollback and promotion calls retry until they succeed, so an over-long tag would stall them rather than fail.
 */
const TAG_VALUE_CHARS = 5000;
export const tagValue = (text: string): string => (text.length > TAG_VALUE_CHARS ? `${text.slice(0, TAG_VALUE_CHARS - 1)}…` : text);

export interface PromoteInput {
  client: MlflowClient;
  name: string;
  version: string;
  reason: string;
}

/**
 * Makes `version` the champion: the outgoing champion keeps the alias `previous` (the rollback target), and the
 * decision is tagged on the version. Promoting the version that already is champion (a retry) changes nothing
 * but the tags, so `previous` never ends up pointing at the champion itself.
 */
export async function promoteChampion(input: PromoteInput): Promise<{ champion: string; previous?: string }> {
  const { client, name, version } = input;
  await client.getModelVersion(name, version); // fails clearly (404) for a version that does not exist
  const current = await client.getModelVersionByAlias(name, CHAMPION);
  let previous = current && current.version !== version ? current.version : undefined;
  if (previous) await client.setAlias(name, PREVIOUS, previous);
  else previous = (await client.getModelVersionByAlias(name, PREVIOUS))?.version;
  if (previous === version) {
    // No champion (its version was deleted from the registry) and the version coming back is `previous` itself
    // (`ferops deploy previous --now`): it would carry both aliases, and the one before it is unknown.
    await client.deleteAlias(name, PREVIOUS);
    previous = undefined;
  }
  await client.setAlias(name, CHAMPION, version);
  const challenger = await client.getModelVersionByAlias(name, CHALLENGER);
  if (challenger?.version === version) await client.deleteAlias(name, CHALLENGER);
  await client.setModelVersionTag(name, version, 'ferops.promoted_at', new Date().toISOString());
  await client.setModelVersionTag(name, version, 'ferops.promotion_reason', tagValue(input.reason));
  if (previous) await client.setModelVersionTag(name, version, 'ferops.replaced_version', previous);
  return { champion: version, previous };
}

/** Records on the version that its rollout was rolled back and why; the aliases are the workflow's business. */
export async function tagRollback(input: PromoteInput): Promise<void> {
  const { client, name, version } = input;
  await client.setModelVersionTag(name, version, 'ferops.rollback', 'true');
  await client.setModelVersionTag(name, version, 'ferops.rollback_reason', tagValue(input.reason));
  await client.setModelVersionTag(name, version, 'ferops.rolled_back_at', new Date().toISOString());
}
