import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { ApplicationFailure, ParentClosePolicy, patched, proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';
import type { DriftReport } from '../activities/monitor';
import type { Activities } from '../activities';
import type { PipelineInputOverrides } from '../lib/pipeline-input';
import { driftRetrainWorkflowId } from '../lib/temporal-constants';
import { driftMonitorInputProblems } from '../lib/workflow-input-check';
import { trainingPipeline } from './training-pipeline';

const { checkDrift, logDriftReport } = proxyActivities<Activities>({
  startToCloseTimeout: '10m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5, nonRetryableErrorTypes: ['NoBaseline', 'BadInput'] },
});

/** Marks executions that check their input before the first check (lib/workflow-input-check.ts). */
const INPUT_CHECKED = 'drift-monitor-input-checked';

export interface DriftMonitorInput {
  /** Live statistics window, seconds (default 600: one schedule interval). */
  windowSeconds?: number;
  /** PSI above which a feature is drifted (default 0.25). */
  psiThreshold?: number;
  /** Fewer live faces than this never counts as drift (default 200). */
  minSamples?: number;
  /** Overrides of the retraining pipeline's input; default: the documented pipeline defaults. */
  retrain?: PipelineInputOverrides;
}

export interface DriftMonitorResult {
  report: DriftReport;
  retraining: { workflowId: string; status: 'started' | 'already_started' } | null;
}

/** Compare live inputs with the champion's training data, log the report, start one retraining per drift episode. */
export async function driftMonitor(input: DriftMonitorInput = {}): Promise<DriftMonitorResult> {
  // Executions begun before the check replay without it (so that their histories stay deterministic).
  const problems = patched(INPUT_CHECKED) ? driftMonitorInputProblems(input) : undefined;
  if (problems) throw ApplicationFailure.nonRetryable(`bad_input: ${problems}`, 'BadInput');
  input ??= {};
  const info = workflowInfo();
  const report = await checkDrift({ windowSeconds: input.windowSeconds ?? 600, psiThreshold: input.psiThreshold ?? 0.25, minSamples: input.minSamples ?? 200 });
  await logDriftReport({ report, at: info.runStartTime.getTime(), workflowId: info.workflowId });
  if (report.status !== 'checked' || !report.drifted) return { report, retraining: null };
  const workflowId = driftRetrainWorkflowId(report.modelName, report.championVersion);
  try {
    await startChild(trainingPipeline, {
      workflowId,
      args: [{ modelName: report.modelName, ...input.retrain }],
      // The retraining outlives this short monitor run; the id (not a running parent) guards against duplicates.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
    return { report, retraining: { workflowId, status: 'started' } };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { report, retraining: { workflowId, status: 'already_started' } };
    throw err;
  }
}
