import { loadConfig, workflowUiUrl } from '../../../lib/config';
import { MlflowClient } from '../../../lib/mlflow';
import type { PipelineInputOverrides } from '../../../lib/pipeline-input';
import { type CommandSpec, numberFlag, type ParsedArgs, UsageError } from '../args';
import { startDeploy } from '../deploy-version';
import { followRollout } from '../follow';
import { connectClient } from '../temporal-client';

export const DEPLOY_ARGS: CommandSpec = {
  usage: `deploy <version>|previous|@<alias> [--approval] [--steps 5,25,50,100] [--shadow-seconds S] [--window-seconds S]
      [--thresholds JSON] [--now --reason TEXT [--by NAME]] [--id WORKFLOW_ID] [--no-wait]`,
  values: ['steps', 'shadow-seconds', 'window-seconds', 'thresholds', 'reason', 'by', 'id'],
  switches: ['approval', 'now', 'no-wait'],
  positionals: 1,
};

/** The rollout options a deploy may change; the rest keep the pipeline's documented defaults. */
export function deployRolloutOverrides(flags: ParsedArgs['flags']): NonNullable<PipelineInputOverrides['rollout']> {
  const o: NonNullable<PipelineInputOverrides['rollout']> = {};
  if (typeof flags.steps === 'string') {
    const steps = flags.steps.split(',').map((s) => Number(s.trim()));
    if (steps.some((s) => !Number.isFinite(s))) throw new UsageError(`--steps needs percentages separated by commas, got "${flags.steps}"`);
    o.steps = steps;
  }
  if (flags['shadow-seconds'] !== undefined) o.shadowSeconds = numberFlag(flags, 'shadow-seconds');
  if (flags['window-seconds'] !== undefined) o.windowSeconds = numberFlag(flags, 'window-seconds');
  if (flags.approval) o.approval = 'required';
  if (typeof flags.thresholds === 'string') {
    // Checked with the rest of the rollout's input: a misspelt key is refused there, not ignored.
    let parsed: unknown;
    try {
      parsed = JSON.parse(flags.thresholds);
    } catch {
      // refused below with the rest of what is not an object
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new UsageError(`--thresholds needs a JSON object, e.g. '{"minShadowKappa": 0}', got ${flags.thresholds}`);
    }
    o.thresholds = parsed;
  }
  return o;
}

/** `--now`: who and why, both recorded, since it skips every check a canary makes; rollout options make no sense with it. */
export function immediateFrom(flags: ParsedArgs['flags'], withRolloutOptions: boolean): { by: string; reason: string } | undefined {
  if (!flags.now) {
    if (flags.reason !== undefined || flags.by !== undefined) throw new UsageError('--reason and --by go with --now');
    return undefined;
  }
  if (withRolloutOptions) throw new UsageError('--now deploys without canary: it takes no rollout options');
  if (typeof flags.reason !== 'string' || !flags.reason.trim()) {
    throw new UsageError('--now needs --reason TEXT: it skips the canary analysis, and the reason is recorded on the version');
  }
  return { by: typeof flags.by === 'string' ? flags.by : process.env.USER ?? 'cli', reason: flags.reason };
}

/**
 * Rolls a registered version out again, e.g. back to the champion a promotion replaced (`deploy previous`), through
 * the same canary rollout as a new model, or with --now straight into stable. Exits 0 once it serves as stable, 1
 * when it was rolled back.
 */
export async function deployCommand(args: ParsedArgs): Promise<number> {
  const target = args.positional[0];
  if (!target || !/^(\d+|previous|@.+)$/.test(target)) {
    throw new UsageError(target ? `"${target}" is not a version: give a number, previous, or @<alias>` : 'needs a version: a number, previous, or @<alias>');
  }
  const rollout = deployRolloutOverrides(args.flags);
  const immediate = immediateFrom(args.flags, Object.keys(rollout).length > 0);
  const config = loadConfig();
  const client = await connectClient(config);
  const { handle, version, attached, rolledBack } = await startDeploy(client, new MlflowClient({ baseUrl: config.mlflowUrl }), {
    modelName: config.modelName, target, taskQueue: config.taskQueue, rollout, immediate, id: typeof args.flags.id === 'string' ? args.flags.id : undefined,
  });
  if (rolledBack) console.log(`note: ${rolledBack}`);
  console.log(`${attached ? 'attached to the running' : 'started'} rollout ${handle.workflowId} of ${config.modelName} version ${version}`);
  console.log(`  Temporal UI: ${workflowUiUrl(config.temporalUiUrl, handle.workflowId)}`);
  console.log(`  control it: npm run ferops -- rollout status|pause|resume|abort ${handle.workflowId}`);
  if (args.flags['no-wait']) return 0;
  const result = await followRollout(handle);
  console.log(`${result.outcome.replace('_', ' ')}: ${result.reason}`);
  return result.outcome === 'promoted' ? 0 : 1;
}
