/**
 * What the canary analysis (lib/canary-analysis.ts) and the rollout workflow see of the fleet: the deployment as
 * the desired state says, and one window's statistics merged over every replica (lib/inference-admin/fleet.ts).
 */

import type { LatencySketch } from '../latency-sketch';
import type { SlotModel, SlotName } from './wire';

export type Slot = SlotName;
export type SlotState = SlotModel;
export interface DeploymentState { stable?: SlotState; canary?: SlotState; canaryWeight: number; shadow: boolean }

export interface SlotWindowStats {
  version?: string;
  requests: number;
  errors: number;
  latencyMs: { p50: number; p95: number; p99: number };
  /** The window's merged latency sketch, for the rank test on whole distributions (absent before #21). */
  latency?: LatencySketch;
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
  /** Which generation of the desired state the window counted, and each replica's share of its requests. */
  fleet?: { generation: number; replicas: { id: string; url: string; stable: number; canary: number }[] };
}
