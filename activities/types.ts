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

export type Slot = 'stable' | 'canary';
export interface SlotState { version: string; source: string }
export interface DeploymentState { stable?: SlotState; canary?: SlotState; canaryWeight: number; shadow: boolean }

export interface SlotWindowStats {
  version?: string;
  requests: number;
  errors: number;
  latencyMs: { p50: number; p95: number; p99: number };
  classCounts: Record<string, number>;
  meanConfidence: number;
  faces: number;
}
export interface WindowStats {
  stable: SlotWindowStats;
  canary: SlotWindowStats;
  /**
   * Mirrored requests the canary answered (compared with stable) and the ones it failed on; chanceAgreement is
   * what two models with these class distributions agree on by chance (absent from services older than it).
   */
  shadow: { compared: number; agreement: number; chanceAgreement?: number; errors: number };
}
