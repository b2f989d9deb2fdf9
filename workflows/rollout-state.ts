/**
 * What a canaryRollout reports about itself: the `rolloutState` query's answer (workflows/definitions.ts) and its
 * result. A module of its own so that the query's definition and the workflow both import it, not each other.
 */
import type { Analysis } from '../lib/canary-analysis';

export interface RolloutDecision { phase: string; canaryWeight: number; attempt: number; analysis: Analysis; elapsedSeconds?: number }
export interface RolloutState {
  phase: 'loading' | 'awaiting_approval' | 'shadow' | 'traffic' | 'promoted' | 'rolled_back';
  canaryWeight: number;
  paused: boolean;
  decisions: RolloutDecision[];
}
export interface RolloutResult { outcome: 'promoted' | 'rolled_back'; reason: string; decisions: RolloutDecision[] }
