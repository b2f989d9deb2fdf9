import { loadConfig } from '../../../lib/config';
import { MlflowClient } from '../../../lib/mlflow';
import type { CommandSpec, ParsedArgs } from '../args';
import { listVersions, versionTable } from '../model-versions';

export const VERSIONS_ARGS: CommandSpec = { usage: 'versions [--json]', switches: ['json'], positionals: 0 };

/** The registered model's versions, newest first: what to give `ferops deploy`. */
export async function versionsCommand(args: ParsedArgs): Promise<number> {
  const config = loadConfig();
  const rows = await listVersions(new MlflowClient({ baseUrl: config.mlflowUrl }), config.modelName);
  if (args.flags.json) console.log(JSON.stringify(rows, null, 2));
  else for (const line of versionTable(rows, process.stdout.columns || 160)) console.log(line);
  return 0;
}
