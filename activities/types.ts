/**
 * The contract between workflows and activities: small JSON in, small JSON out. Data moves by reference
 * (directory paths, MLflow URIs), never as images or tensors, so workflow histories stay small.
 */
import type { DatasetSource, GateInput } from '../lib/pipeline-input';

export interface IngestInput { workflowId: string; modelName: string; source: DatasetSource }
export interface IngestOutput {
  datasetId: string;
  uri: string;
  splits: { train: number; val: number; test: number };
  rejected: number;
  reused: boolean;
  /** The pipeline's MLflow run (one per workflow, found again on retry by its run key). */
  mlflowRunId: string;
}

export interface TrainInput { workflowId: string; mlflowRunId: string; datasetUri: string; trainer: Record<string, unknown> }
export interface TrainOutput {
  outputDir: string;
  modelDir: string;
  epochsRun: number;
  bestValAccuracy: number;
  test: { accuracy: number; macroF1: number };
}

export interface EvaluateInput { workflowId: string; mlflowRunId: string; modelName: string; modelDir: string; datasetUri: string }
export interface ModelScore {
  accuracy: number;
  /** Test faces the scores were measured on (absent in results recorded before it was reported). */
  count?: number;
  macroF1: number;
  ece: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}
export interface EvaluateOutput extends ModelScore {
  champion?: ModelScore & { version: string };
}

export interface RegisterInput {
  workflowId: string;
  mlflowRunId: string;
  modelName: string;
  modelDir: string;
  datasetId: string;
  evaluation: EvaluateOutput;
  gate: GateInput;
}
export interface RegisterOutput { decision: 'registered' | 'refused'; version?: string; reason: string }
/** How a pipeline ended without finishing: closePipelineRun records the first two, housekeeping all of them. */
export type PipelineOutcome = 'failed' | 'cancelled' | 'terminated' | 'timed-out' | 'lost';
/** A pipeline that ended badly: `reason` is its deepest error message. */
export interface ClosePipelineRunInput { workflowId: string; outcome: Extract<PipelineOutcome, 'failed' | 'cancelled'>; reason: string }

// The deployment and canary-window types belong to the admin contract (lib/inference-admin); re-exported for workflows.
export type { DeploymentState, Slot, SlotState, SlotWindowStats, WindowStats } from '../lib/inference-admin/window';
