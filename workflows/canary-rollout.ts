import { ActivityFailure, ApplicationFailure, CancellationScope, condition, isCancellation, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { analyseWindow } from '../lib/canary-analysis';
import { afterLook, lookContext, phaseLooks, remember, rolloutPhases, worthRecording, type Seen } from '../lib/canary-decision';
import type { RolloutInput } from '../lib/pipeline-input';
import { rolloutWorkflowInputProblems } from '../lib/workflow-input-check';
import { abortSignal, approveUpdate, pauseSignal, resumeSignal, rolloutStateQuery, type ApprovalDecision } from './definitions';
import { releaseDeploymentLease, takeDeploymentLease } from './deployment-lease';
import type { RolloutResult, RolloutState } from './rollout-state';

export type { RolloutDecision, RolloutResult, RolloutState } from './rollout-state';

const deploy = proxyActivities<Activities>({
  startToCloseTimeout: '5m',
  // Loading a model from the registry can take a while; stats reads are quick. A service that stays down
  // makes these fail after the retries, and the rollout then rolls back rather than promote on missing data.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 8, nonRetryableErrorTypes: ['BadInput'] },
});

// A second proxy, the justified exception: rolling back or finishing a promotion retries until service and registry answer.
const settle = proxyActivities<Activities>({
  startToCloseTimeout: '5m',
  scheduleToCloseTimeout: '7d',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

/**
 * Marks executions that settle every failure after the candidate is loaded. Histories recorded before it replay
 * the old way (the failure ended the workflow), so queries and resets on those executions stay deterministic.
 */
const SAFE_STATE = 'rollout-always-settles';
/** Marks executions that look at each window several times and may end it early (lib/canary-decision.ts). */
const SEQUENTIAL_LOOKS = 'canary-sequential-looks';
/** Marks executions whose class test tolerates a shift up to maxClassDivergence (lib/canary-evidence.ts, classTest). */
const CLASS_TOLERANCE = 'canary-class-tolerance';
/** Marks executions that check their input before loading anything (lib/workflow-input-check.ts). */
const INPUT_CHECKED = 'rollout-input-checked';
/** Marks executions that hold the model's deployment lease before reading or writing its deployment (./deployment-lease.ts). */
const ONE_PER_MODEL = 'rollout-one-per-model';
/** Marks executions that change nothing when their version already serves as stable (a revert to what serves). */
const ALREADY_SERVING = 'rollout-of-serving-version';
/** Marks executions that may deploy straight into stable when their input says so (`immediate`). */
const IMMEDIATE = 'rollout-immediate';

export interface RolloutWorkflowInput {
  modelName: string;
  version: string;
  rollout: RolloutInput;
  /**
   * The break-glass: straight into stable, without canary or analysis (an instant rollback, or a stable version the
   * registry no longer holds). Still one rollout per model at a time; who and why are recorded on the version.
   */
  immediate?: { by: string; reason: string };
}
interface Verdict { promote: boolean; reason: string }

/**
 * Moves a registered model version into service step by step: canary slot, shadow, traffic steps, each held for
 * a durable timer window and analysed against stable; promotes when every window passes, rolls back otherwise.
 * Once the candidate is loaded, every way out ends promoted or rolled back with the reason recorded: a step that
 * fails past its retries, or a cancellation, rolls back, and the rollback waits for the service and registry.
 * Rollouts of one model run one at a time: each holds the model's deployment lease throughout (./deployment-lease.ts).
 */
export async function canaryRollout(input: RolloutWorkflowInput): Promise<RolloutResult> {
  // Executions begun before the check replay without it (so that their histories stay deterministic).
  const problems = patched(INPUT_CHECKED) ? rolloutWorkflowInputProblems(input) : undefined;
  if (problems) throw ApplicationFailure.nonRetryable(`bad_input: ${problems}`, 'BadInput');
  const { modelName, version, rollout } = input;
  const state: RolloutState = { phase: 'loading', canaryWeight: 0, paused: false, decisions: [] };
  let abortReason: string | undefined;
  let approval: ApprovalDecision | undefined;
  setHandler(rolloutStateQuery, () => state);
  setHandler(pauseSignal, () => void (state.paused = true));
  setHandler(resumeSignal, () => void (state.paused = false));
  setHandler(abortSignal, (reason) => void (abortReason = abortReasonOf(reason)));
  setHandler(approveUpdate, (d) => ((approval = d), d.approved ? 'approved' : 'rejected'), {
    validator: (d) => {
      if (!d || typeof d.by !== 'string' || !d.by) throw new Error('approval needs "by" (who decides)');
      // Sent from the Temporal UI, "approved": "false" would be truthy: only a boolean decides.
      if (typeof d.approved !== 'boolean') throw new Error(`approval needs "approved": true or false, got ${JSON.stringify(d.approved)}`);
      if (state.phase !== 'awaiting_approval') throw new Error(`not awaiting approval (phase ${state.phase})`);
    },
  });
  const source = `models:/${modelName}/${version}`;

  // Everything from the deployment's first read on, run while holding the model's deployment lease.
  const deployCandidate = async (): Promise<RolloutResult> => {
    const current = await deploy.deploymentState();
    if (!current.stable) {
      // Nothing serves yet: there is no baseline to compare a canary with, so the first model goes straight to stable.
      await deploy.loadModel({ slot: 'stable', source, version });
      return promoted(state, modelName, version, 'first model: no stable version to compare against', false);
    }
    if (current.stable.version === version && patched(ALREADY_SERVING)) {
      // Started from the Temporal UI for the version that serves: a canary of it would be compared with itself.
      // Nothing is loaded and the registry keeps its champion and that promotion's reason.
      state.phase = 'promoted';
      return { outcome: 'promoted', reason: `version ${version} already serves as stable: nothing rolled out`, decisions: [] };
    }
    if (input.immediate && patched(IMMEDIATE)) {
      await deploy.loadModel({ slot: 'stable', source, version });
      return promoted(state, modelName, version, `deployed at once by ${input.immediate.by}, without canary: ${input.immediate.reason}`, false);
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
      // The service validates a model at load (shapes, labels, a warm-up run) and keeps its slots as they were; a load
      // cut off on the way back may still have filled the canary slot, so that is cleared (it never had traffic).
      if (!(e instanceof ActivityFailure)) throw e;
      return rolledBack(state, modelName, version, `candidate could not be loaded: ${e.cause?.message ?? e.message}`, patched(SAFE_STATE));
    }
    let verdict: Verdict;
    try {
      verdict = await runWindows(state, { modelName, version, rollout }, () => abortReason);
    } catch (e) {
      if (!(e instanceof ActivityFailure || isCancellation(e)) || !patched(SAFE_STATE)) throw e;
      if (!isCancellation(e)) return rolledBack(state, modelName, version, failureMessage(e), true);
      await rolledBack(state, modelName, version, 'rollout cancelled', true);
      throw e;
    }
    return verdict.promote
      ? promoted(state, modelName, version, verdict.reason, true)
      : rolledBack(state, modelName, version, verdict.reason, true);
  };
  if (!patched(ONE_PER_MODEL)) return deployCandidate();
  const taken = await takeDeploymentLease(modelName, (leaseId) => Object.assign(state, { phase: 'waiting_for_deployment', waitingFor: leaseId }), () => abortReason);
  delete state.waitingFor;
  if ('abortReason' in taken) return rolledBack(state, modelName, version, taken.abortReason, false);
  state.phase = 'loading';
  try {
    return await deployCandidate();
  } finally {
    await releaseDeploymentLease(taken.lease);
  }
}

/** Shadow, then each traffic step, each held for its windows: the verdict, or a throw when a step fails past its retries. */
async function runWindows(
  state: RolloutState, { modelName, version, rollout }: RolloutWorkflowInput, abortReason: () => string | undefined,
): Promise<Verdict> {
  const sequential = patched(SEQUENTIAL_LOOKS);
  const classesAgainstTolerance = patched(CLASS_TOLERANCE);
  const seen: Seen = { earlier: [] };
  for (const p of rolloutPhases(rollout)) {
    state.phase = p.phase;
    state.canaryWeight = p.weight;
    await deploy.setTraffic({ canaryWeight: p.weight, shadow: p.phase === 'shadow' });
    // Before SEQUENTIAL_LOOKS: one look at each window's end.
    const looks = phaseLooks(p.seconds, rollout.maxExtensions).filter((l) => sequential || l.final);
    let waited = 0;
    for (const look of looks) {
      // A window is a durable timer: a worker restart resumes it instead of starting over. Abort cuts it short.
      await condition(() => abortReason() !== undefined, (look.elapsedSeconds - waited) * 1000);
      waited = look.elapsedSeconds;
      await condition(() => !state.paused || abortReason() !== undefined);
      const aborted = abortReason();
      if (aborted) return { promote: false, reason: aborted };
      const stats = await deploy.readStats({ windowSeconds: look.elapsedSeconds });
      const analysis = analyseWindow(stats, p.phase, rollout.minRequests, rollout.thresholds, { ...lookContext(rollout, look, seen), classesAgainstTolerance });
      const outcome = afterLook(analysis, look, rollout.maxExtensions);
      if (worthRecording(look, outcome)) {
        state.decisions.push({ phase: p.phase, canaryWeight: p.weight, attempt: look.attempt, elapsedSeconds: look.elapsedSeconds, analysis });
        await deploy.recordDecision({ modelName, version, key: `${p.phase}-${p.weight}`, analysis });
      }
      remember(seen, stats, p.phase, outcome, rollout.minRequests);
      if (outcome.next === 'pass') break;
      if (outcome.next === 'fail') return { promote: false, reason: outcome.reason };
    }
  }
  return { promote: true, reason: 'every window passed' };
}

/** Not cancellable once begun: a promotion stopped half-way would leave the service and the registry disagreeing. */
function promoted(state: RolloutState, modelName: string, version: string, reason: string, fromCanary: boolean): Promise<RolloutResult> {
  return CancellationScope.nonCancellable(async () => {
    if (fromCanary) {
      try {
        await deploy.promoteService();
      } catch (e) {
        if (!(e instanceof ActivityFailure) || !patched(SAFE_STATE)) throw e;
        // The promote may have landed before the answer was lost: what the service now serves as stable decides.
        if ((await settle.deploymentState()).stable?.version !== version) {
          return rolledBack(state, modelName, version, `promotion failed: ${failureMessage(e)}`, true);
        }
      }
    }
    try {
      await deploy.promoteChampion({ modelName, version, reason });
    } catch (e) {
      if (!(e instanceof ActivityFailure) || !patched(SAFE_STATE)) throw e;
      // The service already serves the candidate as stable: the registry has to follow, however long it is away.
      await settle.promoteChampion({ modelName, version, reason });
    }
    state.phase = 'promoted';
    state.canaryWeight = 0;
    return { outcome: 'promoted', reason, decisions: state.decisions };
  });
}

/** Not cancellable, and patient: it ends with stable alone serving and the reason on the version, whatever it waits for. */
function rolledBack(state: RolloutState, modelName: string, version: string, reason: string, loaded: boolean): Promise<RolloutResult> {
  return CancellationScope.nonCancellable(async () => {
    if (loaded) await settle.rollbackService();
    await settle.tagRollback({ modelName, version, reason });
    state.phase = 'rolled_back';
    state.canaryWeight = 0;
    return { outcome: 'rolled_back', reason, decisions: state.decisions };
  });
}

/**
 * The abort signal's reason as text. The Temporal UI sends whatever JSON the operator types: an object there (say
 * `{"reason": "..."}`) became the rollback's reason, MLflow refused it as a tag value, and the rollback's tag call
 * retried for days. So: a string as given, an object's string `reason`, anything else the default.
 */
function abortReasonOf(payload: unknown): string {
  const given = typeof payload === 'object' && payload !== null ? (payload as { reason?: unknown }).reason : payload;
  return typeof given === 'string' && given.trim() !== '' ? given : 'aborted by operator';
}

/** Which step failed and why, from the typed chain: `readStats failed: inference GET ... unreachable: ...`. */
function failureMessage(e: unknown): string {
  if (e instanceof ActivityFailure) return `${e.activityType} failed: ${e.cause?.message ?? e.message}`;
  return e instanceof Error ? e.message : String(e);
}
