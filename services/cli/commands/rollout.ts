import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { loadConfig } from '../../../lib/config';
import { rolloutWorkflowId } from '../../../lib/temporal-constants';
import { abortSignal, approveUpdate, pauseSignal, resumeSignal, rolloutStateQuery } from '../../../workflows/definitions';
import { type CommandSpec, type ParsedArgs, UsageError } from '../args';
import { connectClient } from '../temporal-client';

const ACTIONS = ['status', 'pause', 'resume', 'abort', 'approve', 'reject'];
export const ROLLOUT_ARGS: CommandSpec = {
  usage: `rollout ${ACTIONS.join('|')} <pipeline or rollout workflow id> [--reason TEXT] [--by NAME]`, values: ['reason', 'by'], positionals: 2,
};

/** Operator controls of a running canaryRollout (the same signals and update the Temporal UI can send). */
export async function rolloutCommand(args: ParsedArgs): Promise<number> {
  const [action, id] = args.positional;
  if (!action || !ACTIONS.includes(action)) throw new UsageError(action ? `unknown action "${action}"` : 'needs an action');
  if (!id) throw new UsageError('needs a pipeline or rollout workflow id');
  const reason = typeof args.flags.reason === 'string' ? args.flags.reason : undefined;
  const by = typeof args.flags.by === 'string' ? args.flags.by : process.env.USER ?? 'cli';
  console.log(await rolloutAction(await connectClient(loadConfig()), action, id, { reason, by }));
  return 0;
}

/**
 * One operator action on the rollout of pipeline `id` (or on rollout `id`); returns what to print. Refuses, saying
 * why, when there is no rollout to act on: the pipeline has not reached it, ended without one, or it has ended.
 */
export async function rolloutAction(client: Client, action: string, id: string, o: { reason?: string; by: string }): Promise<string> {
  // A pipeline's rollout is its child `<id>/rollout`; `ferops deploy` starts rollouts of their own.
  const isRollout = id.endsWith('/rollout') || (await describeOrNone(client, id))?.type === 'canaryRollout';
  const handle = client.workflow.getHandle(isRollout ? id : rolloutWorkflowId(id));
  const status = await rolloutStatus(client, handle.workflowId, id);
  if (action === 'status') return JSON.stringify(await handle.query(rolloutStateQuery), null, 2);
  if (status !== 'RUNNING') throw new Error(`rollout ${handle.workflowId} has ended (${status}): ${action} not sent; see: ferops rollout status ${id}`);
  if (action === 'approve' || action === 'reject') {
    return handle.executeUpdate(approveUpdate, { args: [{ approved: action === 'approve', by: o.by, comment: o.reason }] });
  }
  if (action === 'pause') await handle.signal(pauseSignal);
  else if (action === 'resume') await handle.signal(resumeSignal);
  else await handle.signal(abortSignal, o.reason);
  return `${action} sent to ${handle.workflowId}`;
}

/** The rollout's execution status; where there is none, an error that says what the pipeline is doing instead. */
async function rolloutStatus(client: Client, rolloutId: string, givenId: string): Promise<string> {
  const statusOf = async (workflowId: string) => (await describeOrNone(client, workflowId))?.status.name;
  const rollout = await statusOf(rolloutId);
  if (rollout) return rollout;
  const pipeline = rolloutId === givenId ? undefined : await statusOf(givenId);
  if (!pipeline) throw new Error(`no pipeline or rollout named ${givenId}`);
  throw new Error(pipeline === 'RUNNING'
    ? `pipeline ${givenId} has not reached its rollout yet; see: ferops status ${givenId}`
    : `pipeline ${givenId} ended (${pipeline}) without a rollout; see: ferops status ${givenId}`);
}

const describeOrNone = (client: Client, workflowId: string) =>
  client.workflow.getHandle(workflowId).describe().catch((e: unknown) => {
    if (e instanceof WorkflowNotFoundError) return undefined;
    throw e;
  });
