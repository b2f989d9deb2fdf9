import { loadConfig, workflowUiUrl } from '../../../lib/config';
import { MlflowClient } from '../../../lib/mlflow';
import type { PipelineInputOverrides } from '../../../lib/pipeline-input';
import { type CommandSpec, numberFlag, type ParsedArgs, UsageError } from '../args';
import { startDeploy } from '../deploy-version';
import { followRollout } from '../follow';
import { connectClient } from '../temporal-client';

export const DEPLOY_ARGS: CommandSpec = {
  usage: `deploy <version>|previous|@<alias> [--approval] [--steps 5,25,50,100] [--shadow-seconds S] [--window-seconds S]
      [--thresholds JSON] [--id WORKFLOW_ID] [--no-wait]`,
  values: ['steps', 'shadow-seconds', 'window-seconds', 'thresholds', 'id'],
  switches: ['approval', 'no-wait'],
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
    const parsed: unknown = (() => {
      try {
        return JSON.parse(flags.thresholds);
      } catch {
        return undefined;
      }
    })();
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new UsageError(`--thresholds needs a JSON object, e.g. '{"minShadowKappa": 0}', got ${flags.thresholds}`);
    }
    o.thresholds = parsed;
  }
  return o;
}

/**
 * Rolls a registered version out again, e.g. back to the champion a promotion replaced (`deploy previous`), through
 * the same canary rollout as a new model. Exits 0 once it serves as stable, 1 when it was rolled back.
 */
export async function deployCommand(args: ParsedArgs): Promise<number> {
  const target = args.positional[0];
  if (!target || !/^(\d+|previous|@.+)$/.test(target)) {
    throw new UsageError(target ? `"${target}" is not a version: give a number, previous, or @<alias>` : 'needs a version: a number, previous, or @<alias>');
  }
  const rollout = deployRolloutOverrides(args.flags);
  const config = loadConfig();
  const client = await connectClient(config);
  const { handle, version, attached, rolledBack } = await startDeploy(client, new MlflowClient({ baseUrl: config.mlflowUrl }), {
    modelName: config.modelName, target, taskQueue: config.taskQueue, rollout, id: typeof args.flags.id === 'string' ? args.flags.id : undefined,
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
