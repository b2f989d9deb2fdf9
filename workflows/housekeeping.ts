import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ClosedRun } from '../activities/housekeeping';
import { releaseDeploymentLease, tryDeploymentLease } from './deployment-lease';

// A run that fails is no loss: the schedule starts the next one minutes later, and each job finds its work again.
const { anyRolloutRunning, closeAbandonedPipelineRuns, deployedCanary, rollbackService, tagRollback } = proxyActivities<Activities>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 5 },
});

export interface HousekeepingResult {
  /** Pipeline runs ended because their workflows had ended without ending them. */
  closedRuns: ClosedRun[];
  /** The canary version rolled back because no rollout held it any more. */
  canaryRolledBack?: string;
}

export const ORPHANED_CANARY_REASON = 'no rollout held its deployment any more (its rollout was terminated): rolled back by housekeeping';

/**
 * Settles what workflows that were terminated (or timed out) leave behind, since they run no code of their own as
 * they end: their pipelines' MLflow runs, and a canary that a terminated rollout left serving part of the traffic.
 * Started by the Temporal Schedule `ferops-housekeeping` (services/worker/schedules.ts).
 */
export async function housekeeping(): Promise<HousekeepingResult> {
  const { closed } = await closeAbandonedPipelineRuns();
  return { closedRuns: closed, canaryRolledBack: await rollBackOrphanedCanary() };
}

/**
 * A rollout holds its model's deployment lease from before its canary is loaded until after it is settled, and a
 * terminated rollout's lease is terminated with it. So a canary in the desired state, with the lease free and no
 * rollout running, has no rollout left to settle it. Taking the lease first keeps a rollout that starts meanwhile
 * from loading its own canary under this check (it waits for the lease, as it would for another rollout).
 */
async function rollBackOrphanedCanary(): Promise<string | undefined> {
  const { modelName, canaryVersion } = await deployedCanary();
  if (!canaryVersion || (await anyRolloutRunning())) return undefined;
  const lease = await tryDeploymentLease(modelName);
  if (!lease) return undefined;
  try {
    // Read again under the lease: the rollout that held it may have settled its canary just before releasing it.
    const held = await deployedCanary();
    if (!held.canaryVersion) return undefined;
    // The reason first: a rollback that fails after it is retried by the next run, which finds the canary still there.
    await tagRollback({ modelName, version: held.canaryVersion, reason: ORPHANED_CANARY_REASON });
    await rollbackService();
    return held.canaryVersion;
  } finally {
    await releaseDeploymentLease(lease);
  }
}
