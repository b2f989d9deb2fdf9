import { type Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { readDesiredState } from '../../lib/inference-admin/desired-state';
import { isNotFound, type MlflowClient, type ModelVersion } from '../../lib/mlflow';
import { type PipelineInputOverrides, withDefaults } from '../../lib/pipeline-input';
import { deployWorkflowId } from '../../lib/temporal-constants';
import { rolloutWorkflowInputProblems } from '../../lib/workflow-input-check';
import type { canaryRollout } from '../../workflows/canary-rollout';
import { MODEL_NAME, MODEL_VERSION } from '../../workflows/search-attributes';
import { lastRollout } from './model-versions';

export interface DeployRequest {
  modelName: string;
  /** A version number, `previous` (the champion a promotion replaced) or `@<alias>`. */
  target: string;
  taskQueue: string;
  rollout?: PipelineInputOverrides['rollout'];
  /** Straight into stable, without canary or analysis: who asks, and why (recorded on the version). */
  immediate?: { by: string; reason: string };
  /** Overrides the id derived from the version and the one it replaces. */
  id?: string;
}

export interface DeployStart {
  handle: WorkflowHandle<typeof canaryRollout>;
  version: string;
  /** The command found this rollout running and follows it rather than start another. */
  attached: boolean;
  /** Worth telling the operator before it runs: its last rollout was rolled back, when and why. */
  rolledBack?: string;
}

/**
 * Starts a canaryRollout of a version already in the registry: the way back to an earlier model (`previous`) with
 * the same shadow, steps and analysis as any candidate, or with `immediate` straight into stable. Refuses, saying
 * why, a version that does not exist, is not ready, or already serves as stable, and a canary beside a stable
 * version the registry no longer holds. The id names the version and the one it replaces, so the same command run
 * twice (a retry, a second terminal) attaches to one running rollout.
 */
export async function startDeploy(client: Client, mlflow: MlflowClient, req: DeployRequest): Promise<DeployStart> {
  const mv = await resolveVersion(mlflow, req.modelName, req.target);
  if (mv.status !== 'READY') throw new Error(`version ${mv.version} of ${req.modelName} is ${mv.status}, not READY: ${mv.status_message ?? ''}`);
  const desired = await readDesiredState(mlflow, req.modelName);
  if (desired.stable?.version === mv.version) {
    throw new Error(`version ${mv.version} of ${req.modelName} already serves as stable (deployment generation ${desired.generation}): nothing to deploy`);
  }
  if (desired.stable && !req.immediate && !(await findVersion(mlflow, req.modelName, desired.stable.version))) {
    throw new Error(`the stable version ${desired.stable.version} of ${req.modelName} is no longer in the registry: a replica that starts cannot `
      + `serve it, and refuses every canary generation, which still names it; replace it at once with --now --reason TEXT`);
  }
  const input = {
    modelName: req.modelName,
    version: mv.version,
    rollout: withDefaults({ rollout: req.rollout }).rollout,
    ...(req.immediate ? { immediate: req.immediate } : {}),
  };
  // The workflow checks its input too; checked here, a mistake costs no workflow and says so at once.
  const problems = rolloutWorkflowInputProblems(input);
  if (problems) throw new Error(`bad rollout input: ${problems}`);
  const id = req.id ?? deployWorkflowId(req.modelName, mv.version, desired.stable?.version, req.immediate !== undefined);
  const rolledBack = lastRollback(mv);
  try {
    const handle = await client.workflow.start<typeof canaryRollout>('canaryRollout', {
      taskQueue: req.taskQueue,
      workflowId: id,
      args: [input],
      // One at a time per id; an ended one (rolled back, say) can be tried again with other settings.
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      typedSearchAttributes: [{ key: MODEL_NAME, value: req.modelName }, { key: MODEL_VERSION, value: mv.version }],
    });
    return { handle, version: mv.version, attached: false, rolledBack };
  } catch (e) {
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
    return { handle: client.workflow.getHandle(id), version: mv.version, attached: true, rolledBack };
  }
}

/** The version, or undefined when the registry has no such version (any other failure is thrown). */
const findVersion = (mlflow: MlflowClient, modelName: string, version: string): Promise<ModelVersion | undefined> =>
  mlflow.getModelVersion(modelName, version).catch((e: unknown) => {
    if (isNotFound(e)) return undefined;
    throw e;
  });

async function resolveVersion(mlflow: MlflowClient, modelName: string, target: string): Promise<ModelVersion> {
  if (/^\d+$/.test(target)) {
    const mv = await findVersion(mlflow, modelName, target);
    if (mv) return mv;
    throw new Error(`model ${modelName} has no version ${target}`);
  }
  const alias = target === 'previous' ? target : target.startsWith('@') ? target.slice(1) : undefined;
  if (alias === undefined) throw new Error(`"${target}" is not a version: give a number, previous, or @<alias>`);
  const mv = await mlflow.getModelVersionByAlias(modelName, alias);
  if (mv) return mv;
  throw new Error(alias === 'previous'
    ? `model ${modelName} has no previous champion: a promotion sets the alias "previous" on the champion it replaces, and it goes if that version is deleted`
    : `model ${modelName} has no version with the alias "${alias}"`);
}

/** The version's last rollout, when it was rolled back (not promoted since): worth a note before rolling it out again. */
function lastRollback(mv: ModelVersion): string | undefined {
  const last = lastRollout(mv);
  return last?.outcome === 'rolled back' ? `version ${mv.version} was rolled back at ${last.at}: ${last.reason}` : undefined;
}
