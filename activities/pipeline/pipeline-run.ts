import { execFileSync } from 'node:child_process';
import { workflowUiUrl } from '../../lib/config';
import type { MlflowClient } from '../../lib/mlflow';
import { REPO_ROOT } from '../../lib/paths';
import { findOrCreateRun, WORKFLOW_ID_TAG } from '../tracking';
import { reopenPipelineRun } from './run-status';

/** What the stage activities share to keep the pipeline's one MLflow run. */
export interface PipelineRunContext {
  mlflow: MlflowClient;
  experimentName: string;
  /** The Temporal Web UI with its namespace (FEROPS_TEMPORAL_UI_URL); each run links to its workflow there. */
  temporalUiUrl: string;
}

const git = (...args: string[]): string => {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
};

/**
 * The commit the worker runs (for lineage: "which code trained this model?") and the trainer's version, the git
 * tree hash of training-py/, which changes exactly when the trainer's code does. Read on first use, not on import.
 */
let lineage: { commit: string; trainer: string } | undefined;
const codeLineage = () => (lineage ??= { commit: git('rev-parse', 'HEAD'), trainer: git('rev-parse', 'HEAD:training-py') });

/**
 * One MLflow run per pipeline, keyed by the workflow id: whichever stage runs first creates it, retries and
 * later stages find it. Its tags link back to the Temporal workflow and the code.
 */
export async function ensurePipelineRun(ctx: PipelineRunContext, workflowId: string): Promise<string> {
  const experimentId = await ctx.mlflow.getOrCreateExperiment(ctx.experimentName);
  const { commit, trainer } = codeLineage();
  const { run } = await findOrCreateRun(ctx.mlflow, {
    experimentId,
    runKey: workflowId,
    runName: workflowId,
    tags: {
      [WORKFLOW_ID_TAG]: workflowId,
      'ferops.temporal_ui': workflowUiUrl(ctx.temporalUiUrl, workflowId),
      'mlflow.source.git.commit': commit,
      'ferops.git_commit': commit,
      'ferops.trainer_version': trainer,
    },
  });
  // Ended by an earlier, failed execution of this pipeline that has since been reset: it goes on.
  await reopenPipelineRun(ctx.mlflow, run);
  return run.info.run_id;
}

export async function runArtifactUri(run: PipelineRunContext, runId: string): Promise<string> {
  return (await run.mlflow.getRun(runId)).info.artifact_uri;
}
