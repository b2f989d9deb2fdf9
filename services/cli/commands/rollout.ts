import { loadConfig } from '../../../lib/config';
import { rolloutWorkflowId } from '../../../lib/temporal-constants';
import { abortSignal, approveUpdate, pauseSignal, resumeSignal, rolloutStateQuery } from '../../../workflows/definitions';
import type { ParsedArgs } from '../args';
import { connectClient } from '../temporal-client';

export const ROLLOUT_USAGE = 'ferops rollout status|pause|resume|abort|approve|reject <pipeline or rollout workflow id> [--reason TEXT] [--by NAME]';

/** Operator controls of a running canaryRollout (the same signals and update the Temporal UI can send). */
export async function rolloutCommand(args: ParsedArgs): Promise<number> {
  const [action, id] = args.positional;
  if (!action || !id) throw new Error(`usage: ${ROLLOUT_USAGE}`);
  const client = await connectClient(loadConfig());
  const handle = client.workflow.getHandle(id.endsWith('/rollout') ? id : rolloutWorkflowId(id));
  const reason = typeof args.flags.reason === 'string' ? args.flags.reason : undefined;
  const by = typeof args.flags.by === 'string' ? args.flags.by : process.env.USER ?? 'cli';
  switch (action) {
    case 'status':
      console.log(JSON.stringify(await handle.query(rolloutStateQuery), null, 2));
      return 0;
    case 'pause':
      await handle.signal(pauseSignal);
      break;
    case 'resume':
      await handle.signal(resumeSignal);
      break;
    case 'abort':
      await handle.signal(abortSignal, reason);
      break;
    case 'approve':
    case 'reject':
      console.log(await handle.executeUpdate(approveUpdate, { args: [{ approved: action === 'approve', by, comment: reason }] }));
      return 0;
    default:
      throw new Error(`usage: ${ROLLOUT_USAGE}`);
  }
  console.log(`${action} sent to ${handle.workflowId}`);
  return 0;
}
