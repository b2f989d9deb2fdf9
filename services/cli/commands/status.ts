import { loadConfig } from '../../../lib/config';
import { type CommandSpec, type ParsedArgs, UsageError } from '../args';
import { describeFailure } from '../failure';
import { readProgress } from '../pipeline-runner';
import { renderProgress } from '../progress-line';
import { connectClient } from '../temporal-client';

export const STATUS_ARGS: CommandSpec = { usage: 'status <workflow id>', positionals: 1 };

export async function statusCommand(args: ParsedArgs): Promise<number> {
  const id = args.positional[0];
  if (!id) throw new UsageError('needs a workflow id');
  const client = await connectClient(loadConfig());
  const handle = client.workflow.getHandle(id);
  const p = await readProgress(handle);
  console.log(renderProgress(p));
  for (const s of p.progress?.stages ?? []) console.log(`  ${s.stage.padEnd(9)} ${s.status.padEnd(10)} ${s.detail ?? ''}`);
  if (p.status === 'RUNNING') return 0;
  try {
    console.log(JSON.stringify(await handle.result(), null, 2));
    return 0;
  } catch (e) {
    console.log(`${p.status.toLowerCase()}: ${describeFailure(e)}`);
    return 1;
  }
}
