/**
 * What a canaryRollout reports about itself: the `rolloutState` query's answer (workflows/definitions.ts) and its
 * result. A module of its own so that the query's definition and the workflow both import it, not each other.
 */
import type { Analysis } from '../lib/canary-analysis';

export interface RolloutDecision { phase: string; canaryWeight: number; attempt: number; analysis: Analysis; elapsedSeconds?: number }
/** `waiting_for_deployment`: another rollout of the model holds its deployment lease (workflows/deployment-lease.ts). */
export interface RolloutState {
  phase: 'loading' | 'waiting_for_deployment' | 'awaiting_approval' | 'shadow' | 'traffic' | 'promoted' | 'rolled_back';
  canaryWeight: number;
  paused: boolean;
  /** While waiting_for_deployment: the lease's workflow id, whose parent in the Temporal UI is the rollout holding it. */
  waitingFor?: string;
  decisions: RolloutDecision[];
}
export interface RolloutResult { outcome: 'promoted' | 'rolled_back'; reason: string; decisions: RolloutDecision[] }
