import { loadConfig } from '../../../lib/config';
import { rolloutStateQuery } from '../../../workflows/definitions';
import { type CommandSpec, numberFlag, type ParsedArgs, UsageError } from '../args';
import { describeFailure } from '../failure';
import { readProgress, stalledWorkflowTask } from '../pipeline-runner';
import { renderProgress } from '../progress-line';
import { decisionLine, rolloutLine } from '../rollout-lines';
import { connectClient } from '../temporal-client';
import { listWorkflows, workflowTable } from '../workflow-list';

export const STATUS_ARGS: CommandSpec = {
  usage: 'status [<pipeline or rollout workflow id>] [--limit N] [--json]', values: ['limit'], switches: ['json'], positionals: 1,
};

export async function statusCommand(args: ParsedArgs): Promise<number> {
  const id = args.positional[0];
  if (!id) return listCommand(args);
  if (args.flags.limit !== undefined || args.flags.json) throw new UsageError('--limit and --json list the latest workflows: give no workflow id');
  const client = await connectClient(loadConfig());
  const handle = client.workflow.getHandle(id);
  let status: string;
  const described = await handle.describe();
  if (described.type === 'canaryRollout') {
    // A rollout of its own (ferops deploy) has no stages: its phase and the windows decided so far.
    const state = await handle.query(rolloutStateQuery).catch(() => undefined);
    status = described.status.name;
    const stalled = stalledWorkflowTask(described.raw.pendingWorkflowTask, described.taskQueue, Date.now());
    console.log(`rollout ${id}: ${state ? rolloutLine(state) : 'starting'}${stalled ? `  ${stalled}` : ''}  (${status})`);
    for (const d of state?.decisions ?? []) console.log(`  ${decisionLine(d)}`);
  } else {
    const p = await readProgress(handle);
    status = p.status;
    console.log(renderProgress(p));
    for (const s of p.progress?.stages ?? []) console.log(`  ${s.stage.padEnd(9)} ${s.status.padEnd(10)} ${s.detail ?? ''}`);
  }
  if (status === 'RUNNING') return 0;
  try {
    console.log(JSON.stringify(await handle.result(), null, 2));
    return 0;
  } catch (e) {
    console.log(`${status.toLowerCase()}: ${describeFailure(e)}`);
    return 1;
  }
}

/** No id: the latest pipelines and rollouts, so that an id started with --no-wait (or by the drift monitor) is found. */
async function listCommand(args: ParsedArgs): Promise<number> {
  const limit = numberFlag(args.flags, 'limit') ?? 10;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit needs a whole number from 1 to 1000');
  const rows = await listWorkflows(await connectClient(loadConfig()), limit);
  if (args.flags.json) console.log(JSON.stringify(rows, null, 2));
  else if (!rows.length) console.log('no pipelines or rollouts yet: start one with npm run ferops -- train');
  else for (const line of workflowTable(rows, process.stdout.columns || 160)) console.log(line);
  return 0;
}
