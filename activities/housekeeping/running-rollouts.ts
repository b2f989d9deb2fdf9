import { Context } from '@temporalio/activity';

/**
 * anyRolloutRunning: whether Temporal's visibility lists a running canaryRollout. The housekeeping workflow leaves
 * a canary alone while one does, even with the deployment lease free: an operator who terminates a lease breaks the
 * lock, and its rollout still goes on with its canary. Visibility may lag by a moment; a rollout listed as running
 * after it ended only puts the check off to the next run.
 */
export async function anyRolloutRunning(): Promise<boolean> {
  const query = "WorkflowType = 'canaryRollout' AND ExecutionStatus = 'Running'";
  for await (const _ of Context.current().client.workflow.list({ query, pageSize: 1 })) return true;
  return false;
}
