import {
  ActivityCancellationType, type ActivityOptions, ApplicationFailure, CancellationScope, executeChild, isCancellation, log, ParentClosePolicy, patched,
  proxyActivities, setHandler, upsertSearchAttributes, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { type PipelineInput, type PipelineInputOverrides, withDefaults } from '../lib/pipeline-input';
import { type PipelineProgress, rootCauseMessage, type Stage } from '../lib/pipeline-progress';
import { rolloutWorkflowId } from '../lib/temporal-constants';
import { checkPipelineInput } from '../lib/workflow-input-check';
import { canaryRollout, type RolloutResult } from './canary-rollout';
import { progressQuery } from './definitions';
import { DATASET_HASH, MODEL_NAME, MODEL_VERSION, STAGE } from './search-attributes';

const retry: ActivityOptions['retry'] = { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 6, nonRetryableErrorTypes: ['BadInput'] };
const { ingest, evaluate, register } = proxyActivities<Activities>({ startToCloseTimeout: '30m', heartbeatTimeout: '2m', retry });
const trainOptions: ActivityOptions = {
  startToCloseTimeout: '12h',
  // The trainer heartbeats every 5 s; a worker that dies is noticed within 30 s and the retry resumes.
  heartbeatTimeout: '30s',
  // Every worker that stops or dies mid-training costs an attempt (the retry resumes elsewhere), so a long training
  // outlives many deploys; a failure that would repeat ends it at once (BadInput, ParityFailed, TrainerFailedTwice).
  retry: { ...retry, maximumAttempts: 20 },
  // Cancelling the pipeline waits for the trainer to write its checkpoint and stop.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};

// Up to a few minutes of retries, so that a pipeline's failure is not held back long by an MLflow outage.
const { closePipelineRun } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

/** Marks executions that check their input before the first stage (lib/workflow-input-check.ts). */
const INPUT_CHECKED = 'pipeline-input-checked';
/** Marks executions that end their MLflow run FAILED or KILLED when they fail or are cancelled. */
const RUN_CLOSED_ON_FAILURE = 'pipeline-run-closed-on-failure';
/** Marks executions whose rollout is cancelled, not terminated, when the pipeline is terminated. */
const ROLLOUT_CANCELLED_WITH_PIPELINE = 'pipeline-rollout-cancelled-with-it';

export interface PipelineResult {
  datasetId: string;
  mlflowRunId: string;
  modelVersion?: string;
  accuracy: number;
  outcome: 'promoted' | 'rolled_back' | 'refused';
  reason: string;
  rollout?: RolloutResult;
}

/** ingest -> train -> evaluate -> register -> canaryRollout. Durable: every stage survives worker restarts. */
export async function trainingPipeline(overrides: PipelineInputOverrides = {}): Promise<PipelineResult> {
  const progress: PipelineProgress = { stage: 'ingest', stages: [] };
  setHandler(progressQuery, () => progress);
  // Executions begun before the check replay without it (so that their histories stay deterministic).
  const checked = patched(INPUT_CHECKED) ? checkPipelineInput(overrides) : { input: withDefaults(overrides) };
  if (checked.problems !== undefined) throw ApplicationFailure.nonRetryable(`bad_input: ${checked.problems}`, 'BadInput');
  try {
    return await runStages(checked.input, progress);
  } catch (err) {
    // The stage that threw stays readable as such (`ferops status`, the progress query), not as still running.
    const last = progress.stages.at(-1);
    if (last?.status === 'running') Object.assign(last, { status: isCancellation(err) ? 'cancelled' : 'failed', detail: rootCauseMessage(err) });
    // Register ended the run of a pipeline that reached its rollout; a rollout's end is recorded on the version.
    if (last?.stage !== 'rollout' && patched(RUN_CLOSED_ON_FAILURE)) await closeRun(err);
    throw err;
  }
}

/**
 * Ends the pipeline's MLflow run, even when the pipeline was cancelled; failing to end it never hides the pipeline's
 * own error.
 */
async function closeRun(err: unknown): Promise<void> {
  const outcome = isCancellation(err) ? 'cancelled' : 'failed';
  // A cancelled activity's failure carries no message.
  const input = { workflowId: workflowInfo().workflowId, outcome, reason: rootCauseMessage(err) || `the pipeline was ${outcome}` } as const;
  await CancellationScope.nonCancellable(() => closePipelineRun(input)).catch((closeErr: unknown) =>
    log.warn('could not end the pipeline\'s MLflow run', { error: rootCauseMessage(closeErr) }),
  );
}

async function runStages(input: PipelineInput, progress: PipelineProgress): Promise<PipelineResult> {
  const workflowId = workflowInfo().workflowId;
  const enter = (stage: Stage) => {
    progress.stage = stage;
    progress.stages.push({ stage, status: 'running' });
    upsertSearchAttributes([{ key: STAGE, value: stage }]);
  };
  const finish = (detail: string) => Object.assign(progress.stages[progress.stages.length - 1], { status: 'completed', detail });
  upsertSearchAttributes([{ key: MODEL_NAME, value: input.modelName }]);

  enter('ingest');
  const data = await ingest({ workflowId, modelName: input.modelName, source: input.dataset });
  progress.datasetId = data.datasetId;
  upsertSearchAttributes([{ key: DATASET_HASH, value: data.datasetId }]);
  finish(`dataset ${data.datasetId}: ${data.splits.train}/${data.splits.val}/${data.splits.test} images`);

  enter('train');
  const { train } = proxyActivities<Activities>({ ...trainOptions, taskQueue: input.trainingTaskQueue });
  const trained = await train({ workflowId, mlflowRunId: data.mlflowRunId, datasetUri: data.uri, trainer: input.trainer });
  finish(`${trained.epochsRun} epochs, best val accuracy ${trained.bestValAccuracy.toFixed(3)}`);

  enter('evaluate');
  const evaluation = await evaluate({ workflowId, mlflowRunId: data.mlflowRunId, modelName: input.modelName, modelDir: trained.modelDir, datasetUri: data.uri });
  finish(`test accuracy ${evaluation.accuracy.toFixed(3)}, macro-F1 ${evaluation.macroF1.toFixed(3)}`);

  enter('register');
  const reg = await register({
    workflowId, mlflowRunId: data.mlflowRunId, modelName: input.modelName, modelDir: trained.modelDir,
    datasetId: data.datasetId, evaluation, gate: input.gate,
  });
  const base = { datasetId: data.datasetId, mlflowRunId: data.mlflowRunId, accuracy: evaluation.accuracy };
  if (reg.decision === 'refused' || !reg.version) {
    finish(`refused: ${reg.reason}`);
    progress.stages.push({ stage: 'rollout', status: 'skipped', detail: 'gate refused the model' });
    progress.stage = 'done';
    progress.outcome = 'refused';
    return { ...base, outcome: 'refused', reason: reg.reason };
  }
  progress.modelVersion = reg.version;
  upsertSearchAttributes([{ key: MODEL_VERSION, value: reg.version }]);
  finish(`version ${reg.version}`);

  enter('rollout');
  const rollout = await executeChild(canaryRollout, {
    workflowId: rolloutWorkflowId(workflowId),
    args: [{ modelName: input.modelName, version: reg.version, rollout: input.rollout }],
    // A pipeline terminated from the Temporal UI mid-rollout: its rollout, asked to cancel rather than terminated
    // with it, rolls its canary back at once (a terminated one left it serving until housekeeping found it).
    ...(patched(ROLLOUT_CANCELLED_WITH_PIPELINE) ? { parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL } : {}),
  });
  finish(`${rollout.outcome}: ${rollout.reason}`);
  progress.stage = 'done';
  progress.outcome = rollout.outcome;
  return { ...base, modelVersion: reg.version, outcome: rollout.outcome, reason: rollout.reason, rollout };
}
