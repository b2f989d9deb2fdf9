import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  CancellationScope, ChildWorkflowCancellationType, type ChildWorkflowHandle, condition, defineSignal, getExternalWorkflowHandle,
  ParentClosePolicy, setHandler, startChild, workflowInfo,
} from '@temporalio/workflow';
import { deploymentLeaseId } from '../lib/temporal-constants';

/** The lease as the Temporal UI shows it: which model, and which rollout holds it (also the UI's "parent"). */
export interface DeploymentLeaseInput { modelName: string; holder: string }

/** A waiting rollout asks to be told when the lease ends; the holder ends it; the lease tells each waiter. */
const waitingSignal = defineSignal<[string]>('waiting');
const releaseSignal = defineSignal('release');
const releasedSignal = defineSignal('leaseReleased');

/**
 * Held by one canaryRollout per model (or by housekeeping while it rolls back an orphaned canary): the holder starts
 * it as a child under the model's lease id, and it runs until the holder releases it or closes (the server terminates
 * it with its parent, so a terminated holder cannot keep it). On release it tells the rollouts waiting for it.
 */
export async function deploymentLease(_input: DeploymentLeaseInput): Promise<void> {
  const waiters = new Set<string>();
  let released = false;
  setHandler(waitingSignal, (workflowId) => void waiters.add(workflowId));
  setHandler(releaseSignal, () => void (released = true));
  await condition(() => released);
  // A waiter that has ended in the meantime cannot be signalled: nothing to tell it.
  for (const workflowId of waiters) await getExternalWorkflowHandle(workflowId).signal(releasedSignal).catch(() => undefined);
}

/**
 * Between tries while another rollout holds the lease. A release wakes a waiter at once; the tries are for a
 * holder that ended without releasing (terminated), so they grow to a cap that keeps a long wait's history small.
 */
const RETRY_SECONDS = { first: 5, max: 900 };

export type DeploymentLease = ChildWorkflowHandle<typeof deploymentLease>;

/**
 * Takes the model's deployment lease, waiting while another rollout holds it. Why: the desired state is one
 * registry tag written read-then-write, so two rollouts of one model at once (two pipelines of different inputs, or
 * a drift retraining beside a manual one) would load over each other's canary, and one could promote the other's
 * candidate. Returns the lease, or the operator's abort reason when aborted while waiting.
 */
export async function takeDeploymentLease(
  modelName: string, onWait: (leaseId: string) => void, aborted: () => string | undefined,
): Promise<{ lease: DeploymentLease } | { abortReason: string }> {
  const workflowId = deploymentLeaseId(modelName);
  const self = workflowInfo().workflowId;
  let woken = false;
  setHandler(releasedSignal, () => void (woken = true));
  for (let seconds = RETRY_SECONDS.first; ; seconds = Math.min(seconds * 2, RETRY_SECONDS.max)) {
    const lease = await tryDeploymentLease(modelName);
    if (lease) return { lease };
    onWait(workflowId);
    woken = false;
    // The holder may have released since the try: then the lease is gone, and the next try goes a second later.
    const asked = await getExternalWorkflowHandle(workflowId).signal(waitingSignal, self).then(() => true, () => false);
    await condition(() => woken || aborted() !== undefined, (asked ? seconds : 1) * 1000);
    const abortReason = aborted();
    if (abortReason !== undefined) return { abortReason };
  }
}

/** The model's deployment lease if no one holds it, else undefined at once. */
export async function tryDeploymentLease(modelName: string): Promise<DeploymentLease | undefined> {
  try {
    return await startChild(deploymentLease, {
      workflowId: deploymentLeaseId(modelName),
      args: [{ modelName, holder: workflowInfo().workflowId }],
      parentClosePolicy: ParentClosePolicy.TERMINATE,
      // A cancelled rollout still rolls back after the cancel: the lease must outlast that, up to its release.
      cancellationType: ChildWorkflowCancellationType.ABANDON,
    });
  } catch (e) {
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
    return undefined;
  }
}

/**
 * Ends the lease whatever is being cancelled, so that the next rollout of the model starts at once. A lease that is
 * gone already (an operator terminated it to break the lock) has nothing to release: the rollout must still end.
 */
export function releaseDeploymentLease(lease: DeploymentLease): Promise<void> {
  return CancellationScope.nonCancellable(() => lease.signal(releaseSignal).catch(() => undefined));
}
