import { readDesiredState } from '../../lib/inference-admin/desired-state';
import { fromKeyValues, type MlflowClient, type ModelVersion } from '../../lib/mlflow';
import { filterLiteral } from '../../activities/tracking/run-key';
import { fixedWidthTable } from './table';

/** One registered version as an operator choosing what to deploy needs it. */
export interface VersionRow {
  version: string;
  created?: string;
  /** Test accuracy the gate judged (tag `ferops.accuracy`). */
  accuracy?: number;
  /** What it does in the deployment now: `stable`, `canary 25%`, `canary (shadow)`, or nothing. */
  serving?: string;
  aliases: string[];
  /** Its last rollout's outcome: promoted or rolled back, when, and why. */
  lastRollout?: string;
}

/**
 * Every version of `modelName`, newest first, with what `ferops deploy` needs to choose one: its accuracy, its
 * place in the deployment, its aliases (`champion`, `previous`) and how its last rollout ended.
 */
export async function listVersions(mlflow: MlflowClient, modelName: string): Promise<VersionRow[]> {
  const [model, versions, desired] = await Promise.all([
    mlflow.getRegisteredModel(modelName),
    mlflow.searchModelVersions(`name = ${filterLiteral(modelName)}`),
    readDesiredState(mlflow, modelName),
  ]);
  if (!model) throw new Error(`no registered model named ${modelName}`);
  return versions
    .sort((a, b) => Number(b.version) - Number(a.version))
    .map((mv) => {
      const serving = desired.stable?.version === mv.version ? 'stable'
        : desired.canary?.version === mv.version ? (desired.shadow ? 'canary (shadow)' : `canary ${desired.canaryWeight}%`) : undefined;
      const last = lastRollout(mv);
      const accuracy = fromKeyValues(mv.tags)['ferops.accuracy'];
      return {
        version: mv.version,
        created: mv.creation_timestamp ? new Date(Number(mv.creation_timestamp)).toISOString() : undefined,
        accuracy: accuracy !== undefined && Number.isFinite(Number(accuracy)) ? Number(accuracy) : undefined,
        serving,
        aliases: (model.aliases ?? []).filter((a) => a.version === mv.version).map((a) => a.alias).sort(),
        lastRollout: last && `${last.outcome} ${last.at}: ${last.reason}`,
      };
    });
}

/** How the version's last rollout ended (the tags promoteChampion and tagRollback write; ISO times compare as text). */
export function lastRollout(mv: ModelVersion): { outcome: 'promoted' | 'rolled back'; at: string; reason: string } | undefined {
  const tags = fromKeyValues(mv.tags);
  const promotedAt = tags['ferops.promoted_at'] ?? '';
  const rolledBackAt = tags['ferops.rolled_back_at'] ?? '';
  if (!promotedAt && !rolledBackAt) return undefined;
  return promotedAt > rolledBackAt
    ? { outcome: 'promoted', at: promotedAt, reason: tags['ferops.promotion_reason'] ?? 'no reason recorded' }
    : { outcome: 'rolled back', at: rolledBackAt, reason: tags['ferops.rollback_reason'] ?? 'no reason recorded' };
}

/** One version a line; the last column (the last rollout) is cut to `width` characters. */
export function versionTable(rows: VersionRow[], width = 160): string[] {
  const cells = rows.map((r) => [
    r.version, r.created?.slice(0, 16).replace('T', ' ') ?? '-', r.accuracy === undefined ? '-' : r.accuracy.toFixed(3),
    r.serving ?? '-', r.aliases.join(',') || '-', r.lastRollout ?? '-',
  ]);
  return fixedWidthTable(['version', 'created (UTC)', 'accuracy', 'serving', 'aliases', 'last rollout'], cells, width);
}
