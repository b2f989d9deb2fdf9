import { ActivityFailure, condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { analyseWindow, type Analysis } from '../lib/canary-analysis';
import type { RolloutInput } from '../lib/pipeline-input';
import { abortSignal, approveUpdate, pauseSignal, resumeSignal, rolloutStateQuery, type ApprovalDecision } from './definitions';

const deploy = proxyActivities<Activities>({
  startToCloseTimeout: '5m',
  // Loading a model from the registry can take a while; stats reads are quick. A service that stays down
  // makes these fail after the retries, and the rollout then rolls back rather than promote on missing data.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 8, nonRetryableErrorTypes: ['BadInput'] },
});

export interface RolloutWorkflowInput { modelName: string; version: string; rollout: RolloutInput }
export interface RolloutDecision { phase: string; canaryWeight: number; attempt: number; analysis: Analysis }
export interface RolloutState {
  phase: 'loading' | 'awaiting_approval' | 'shadow' | 'traffic' | 'promoted' | 'rolled_back';
  canaryWeight: number;
  paused: boolean;
  decisions: RolloutDecision[];
}
export interface RolloutResult { outcome: 'promoted' | 'rolled_back'; reason: string; decisions: RolloutDecision[] }

/**
 * Moves a registered model version into service step by step: canary slot, shadow, traffic steps, each held for
 * a durable timer window and analysed against stable; promotes when every window passes, rolls back otherwise.
 */
export async function canaryRollout({ modelName, version, rollout }: RolloutWorkflowInput): Promise<RolloutResult> {
  const state: RolloutState = { phase: 'loading', canaryWeight: 0, paused: false, decisions: [] };
  let abortReason: string | undefined;
  let approval: ApprovalDecision | undefined;
  setHandler(rolloutStateQuery, () => state);
  setHandler(pauseSignal, () => void (state.paused = true));
  setHandler(resumeSignal, () => void (state.paused = false));
  setHandler(abortSignal, (reason) => void (abortReason = reason || 'aborted by operator'));
  setHandler(approveUpdate, (d) => ((approval = d), d.approved ? 'approved' : 'rejected'), {
    validator: (d) => {
      if (!d || typeof d.by !== 'string' || !d.by) throw new Error('approval needs "by" (who decides)');
      if (state.phase !== 'awaiting_approval') throw new Error(`not awaiting approval (phase ${state.phase})`);
    },
  });
  const source = `models:/${modelName}/${version}`;

  const current = await deploy.deploymentState();
  if (!current.stable) {
    // Nothing serves yet: there is no baseline to compare a canary with, so the first model goes straight to stable.
    await deploy.loadModel({ slot: 'stable', source, version });
    return promoted(state, modelName, version, 'first model: no stable version to compare against', false);
  }

  if (rollout.approval === 'required') {
    state.phase = 'awaiting_approval';
    const decided = await condition(() => approval !== undefined || abortReason !== undefined, rollout.approvalTimeoutSeconds * 1000);
    if (!decided) return rolledBack(state, modelName, version, 'approval timed out', false);
    if (abortReason) return rolledBack(state, modelName, version, abortReason, false);
    if (!approval!.approved) return rolledBack(state, modelName, version, `rejected by ${approval!.by}`, false);
  }

  state.phase = 'loading';
  try {
    await deploy.loadModel({ slot: 'canary', source, version });
  } catch (e) {
    // The service validates a model at load (shapes, labels, a warm-up run) and keeps its slots as they were.
    if (!(e instanceof ActivityFailure)) throw e;
    return rolledBack(state, modelName, version, `candidate could not be loaded: ${e.cause?.message ?? e.message}`, false);
  }
  const phases = [
    ...(rollout.shadowSeconds > 0 ? [{ phase: 'shadow' as const, weight: 0, seconds: rollout.shadowSeconds }] : []),
    ...rollout.steps.map((w) => ({ phase: 'traffic' as const, weight: w, seconds: rollout.windowSeconds })),
  ];
  for (const p of phases) {
    state.phase = p.phase;
    state.canaryWeight = p.weight;
    await deploy.setTraffic({ canaryWeight: p.weight, shadow: p.phase === 'shadow' });
    for (let attempt = 1; ; attempt++) {
      // A window is a durable timer: a worker restart resumes it instead of starting over. Abort cuts it short.
      await condition(() => abortReason !== undefined, p.seconds * 1000);
      await condition(() => !state.paused || abortReason !== undefined);
      if (abortReason) return rolledBack(state, modelName, version, abortReason, true);
      const stats = await deploy.readStats({ windowSeconds: p.seconds * attempt });
      const analysis = analyseWindow(stats, p.phase, rollout.minRequests, rollout.thresholds);
      state.decisions.push({ phase: p.phase, canaryWeight: p.weight, attempt, analysis });
      await deploy.recordDecision({ modelName, version, key: `${p.phase}-${p.weight}`, analysis });
      if (analysis.verdict === 'pass') break;
      if (analysis.verdict === 'fail') return rolledBack(state, modelName, version, analysis.reasons.join('; '), true);
      if (attempt > rollout.maxExtensions) {
        return rolledBack(state, modelName, version, `inconclusive after ${attempt} windows: ${analysis.reasons.join('; ')}`, true);
      }
    }
  }
  return promoted(state, modelName, version, 'every window passed', true);
}

async function promoted(state: RolloutState, modelName: string, version: string, reason: string, fromCanary: boolean): Promise<RolloutResult> {
  if (fromCanary) await deploy.promoteService();
  await deploy.promoteChampion({ modelName, version, reason });
  state.phase = 'promoted';
  state.canaryWeight = 0;
  return { outcome: 'promoted', reason, decisions: state.decisions };
}

async function rolledBack(state: RolloutState, modelName: string, version: string, reason: string, loaded: boolean): Promise<RolloutResult> {
  if (loaded) await deploy.rollbackService();
  await deploy.tagRollback({ modelName, version, reason });
  state.phase = 'rolled_back';
  state.canaryWeight = 0;
  return { outcome: 'rolled_back', reason, decisions: state.decisions };
}
