import { execFileSync } from 'node:child_process';
import type { MlflowClient } from '../../lib/mlflow';
import { REPO_ROOT } from '../../lib/paths';
import { findOrCreateRun, WORKFLOW_ID_TAG } from '../tracking';

export interface PipelineRunContext {
  mlflow: MlflowClient;
  experimentName: string;
  temporalUiUrl: string;
  namespace: string;
}

const git = (...args: string[]): string => {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
};
/** The commit the worker runs, recorded on every run for lineage ("which code trained this model?"). */
export const GIT_COMMIT = git('rev-parse', 'HEAD');
/** The trainer's version: the git tree hash of training-py/, which changes exactly when the trainer's code does. */
export const TRAINER_VERSION = git('rev-parse', 'HEAD:training-py');

/**
 * One MLflow run per pipeline, keyed by the workflow id: whichever stage runs first creates it, retries and
 * later stages find it. Its tags link back to the Temporal workflow and the code.
 */
export async function ensurePipelineRun(ctx: PipelineRunContext, workflowId: string): Promise<string> {
  const experimentId = await ctx.mlflow.getOrCreateExperiment(ctx.experimentName);
  const { run } = await findOrCreateRun(ctx.mlflow, {
    experimentId,
    runKey: workflowId,
    runName: workflowId,
    tags: {
      [WORKFLOW_ID_TAG]: workflowId,
      'ferops.temporal_ui': `${ctx.temporalUiUrl}/namespaces/${ctx.namespace}/workflows/${encodeURIComponent(workflowId)}`,
      'mlflow.source.git.commit': GIT_COMMIT,
      'ferops.git_commit': GIT_COMMIT,
      'ferops.trainer_version': TRAINER_VERSION,
    },
  });
  return run.info.run_id;
}
