import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PipelineProgress } from '../lib/pipeline-progress';
import type { RolloutState } from './rollout-state';

/** Queries, signals and updates: the names the CLI and the Temporal UI use to talk to running workflows. */
export const progressQuery = defineQuery<PipelineProgress>('progress');
export const rolloutStateQuery = defineQuery<RolloutState>('rolloutState');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const abortSignal = defineSignal<[string?]>('abort');
export interface ApprovalDecision { approved: boolean; by: string; comment?: string }
export const approveUpdate = defineUpdate<string, [ApprovalDecision]>('approve');
