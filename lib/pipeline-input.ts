/**
 * The typed input of a trainingPipeline and its documented defaults. Pure (no I/O): workflow code imports it.
 * Every field is optional; `withDefaults` fills what the caller left out, and the filled input is what the
 * workflow records, so a history shows exactly what ran.
 */
// Type-only: the source modules' schemas define the union, and workflow bundles stay free of their I/O.
import type { DatasetSource } from '../activities/ingest/sources';
import { TRAINING_TASK_QUEUE } from './temporal-constants';

export type { DatasetSource };
export type SyntheticSource = Extract<DatasetSource, { kind: 'synthetic' }>;

export interface GateInput {
  /** Refuse a model whose test accuracy is below this. */
  minAccuracy: number;
  /** Refuse a model whose accuracy is more than this below the champion's on the same test split. */
  maxDropVsChampion: number;
}

export interface RolloutInput {
  /** Canary traffic percentages, held one analysis window each. */
  steps: number[];
  /** Seconds the candidate runs in shadow before any traffic moves (0 skips the shadow phase). */
  shadowSeconds: number;
  /** Seconds each traffic step is held before it is analysed. */
  windowSeconds: number;
  /** Fewer canary requests than this in a window makes it inconclusive. */
  minRequests: number;
  /** How many times an inconclusive window is extended before the rollout fails safe (rolls back). */
  maxExtensions: number;
  /** Require an `approve` update before traffic moves; waits at most approvalTimeoutSeconds. */
  approval: 'none' | 'required';
  approvalTimeoutSeconds: number;
  thresholds: {
    /**
     * Chance of rolling back a candidate as good as stable, over the whole rollout (every window and test together):
     * the sequential tests of lib/canary-evidence.ts split it between phases and tests. Absent from inputs before #21.
     */
    falseRollbackRate?: number;
    /** Tolerated error-rate increase (absolute): a window passes before its end only once the increase is shown below it. */
    maxErrorRateIncrease: number;
    /** Tolerated slowdown: the canary's latency distribution fails once shown slower than this multiple of stable's. */
    maxLatencyRatio: number;
    /**
     * Shadow phase: agreement beyond chance (Cohen's kappa) the canary must show with stable, judged by its 95 %
     * confidence interval: above it passes, below it fails, straddling it extends the window.
     */
    minShadowKappa: number;
    /** Shadow phase, for services that do not report chance agreement: raw agreement must be at least this. */
    minShadowAgreement: number;
    /** A class distribution that differs significantly (chi-square) fails when its Jensen-Shannon divergence exceeds this. */
    maxClassDivergence: number;
    /** Canary mean confidence must be at least this fraction of stable's. */
    minConfidenceRatio: number;
  };
}

export interface PipelineInput {
  modelName: string;
  /** Task queue of the train activity: a pool of GPU hosts polls it (lib/temporal-constants.ts). */
  trainingTaskQueue: string;
  dataset: DatasetSource;
  /** Passed to the trainer as its JSON config (model/train/export groups, seed, device); see training-py/README.md. */
  trainer: Record<string, unknown>;
  gate: GateInput;
  rollout: RolloutInput;
}

export type PipelineInputOverrides = Partial<Omit<PipelineInput, 'gate' | 'rollout'>> & {
  gate?: Partial<GateInput>;
  rollout?: Partial<Omit<RolloutInput, 'thresholds'>> & { thresholds?: Partial<RolloutInput['thresholds']> };
};

/** The default data: procedural FER-format faces (activities/ingest/synthetic), since FER2013 is not bundled. */
export const DEFAULT_DATASET: SyntheticSource = { kind: 'synthetic', size: 4000, seed: 7 };
/** The trainer's own default seed (training-py config.py), for callers that offset it. */
export const DEFAULT_TRAINER_SEED = 1337;

export const DEFAULT_PIPELINE_INPUT: PipelineInput = {
  modelName: 'ferops-fer',
  trainingTaskQueue: TRAINING_TASK_QUEUE,
  dataset: DEFAULT_DATASET,
  trainer: {},
  // Chance is 1/7 = 0.14; a floor well above it catches a broken run without blocking the small CPU demo model.
  gate: { minAccuracy: 0.3, maxDropVsChampion: 0.02 },
  rollout: {
    steps: [5, 25, 50, 100],
    shadowSeconds: 20,
    windowSeconds: 20,
    minRequests: 20,
    maxExtensions: 2,
    approval: 'none',
    approvalTimeoutSeconds: 3600,
    thresholds: {
      falseRollbackRate: 0.01,
      maxErrorRateIncrease: 0.01,
      // Tolerated slowdown of the whole latency distribution; 1.5x and 2x are caught (docs/canary-analysis.md, the table).
      maxLatencyRatio: 1.25,
      // A constant-class (or any untrained) model agrees with stable only as often as chance does: kappa 0. Two
      // honest models trained on the same data agree beyond chance even when their raw agreement is low, when one
      // is much better (measured per seed: docs/benchmarks.md, "Fresh machines, other CPUs, other seeds").
      minShadowKappa: 0.1,
      minShadowAgreement: 0.45,
      // A significant class shift fails above this JS divergence: a collapsed class mix is caught, an honest retrain's
      // shift is far below it (docs/canary-analysis.md, "Thresholds that remain").
      maxClassDivergence: 0.05,
      minConfidenceRatio: 0.6,
    },
  },
};

export function withDefaults(o: PipelineInputOverrides = {}): PipelineInput {
  const d = DEFAULT_PIPELINE_INPUT;
  return {
    modelName: o.modelName ?? d.modelName,
    trainingTaskQueue: o.trainingTaskQueue ?? d.trainingTaskQueue,
    dataset: o.dataset ?? d.dataset,
    trainer: o.trainer ?? d.trainer,
    gate: { ...d.gate, ...o.gate },
    rollout: { ...d.rollout, ...o.rollout, thresholds: { ...d.rollout.thresholds, ...o.rollout?.thresholds } },
  };
}

/** Stable JSON (sorted keys) so the same input always hashes to the same workflow id. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
