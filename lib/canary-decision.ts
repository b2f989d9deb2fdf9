/**
 * The rollout's per-phase decision loop as pure functions, so that the workflow (workflows/canary-rollout.ts) and
 * the simulator (bench/canary-sim.ts) run the same rules: when to look at a window, and what a look's verdict means.
 */
import type { Analysis, LookContext } from './canary-analysis';
import type { RolloutInput } from './pipeline-input';

/** Looks per window: the sequential tests may end a window at a quarter, a half, three quarters, or its end. */
export const LOOKS_PER_WINDOW = 4;

export interface Look {
  attempt: number;
  /** Seconds of the phase behind this look (the window the stats read covers). */
  elapsedSeconds: number;
  /** Seconds to wait after the previous look. */
  waitSeconds: number;
  /** The window's scheduled end (not only an interim look). */
  final: boolean;
}

/** Every look a phase may take: LOOKS_PER_WINDOW per window (whole seconds, at least 1 apart), over its extensions. */
export function phaseLooks(windowSeconds: number, maxExtensions: number): Look[] {
  const looks: Look[] = [];
  let previous = 0;
  for (let attempt = 1; attempt <= maxExtensions + 1; attempt++) {
    const start = windowSeconds * (attempt - 1);
    const ends = [...new Set(Array.from({ length: LOOKS_PER_WINDOW }, (_, k) => start + Math.max(1, Math.round((windowSeconds * (k + 1)) / LOOKS_PER_WINDOW))))];
    for (const end of ends) {
      looks.push({ attempt, elapsedSeconds: end, waitSeconds: end - previous, final: end === start + windowSeconds });
      previous = end;
    }
  }
  return looks;
}

/** The context the analysis needs for a look of a rollout with these settings, given what earlier phases saw. */
export function lookContext(rollout: RolloutInput, look: Look, seen: Pick<LookContext, 'baseline' | 'earlier'>): LookContext {
  const phases = rollout.steps.length + (rollout.shadowSeconds > 0 ? 1 : 0);
  return { final: look.final, phases, looksPerPhase: phaseLooks(rollout.windowSeconds, rollout.maxExtensions).length, ...seen };
}

export type LookOutcome = { next: 'pass' } | { next: 'fail'; reason: string } | { next: 'look-again' };

/** What a look's analysis means for the phase: on to the next phase, roll back, or look again later. */
export function afterLook(analysis: Analysis, look: Look, maxExtensions: number): LookOutcome {
  if (analysis.verdict === 'pass') return { next: 'pass' };
  if (analysis.verdict === 'fail') return { next: 'fail', reason: analysis.reasons.join('; ') };
  if (look.final && look.attempt > maxExtensions) {
    return { next: 'fail', reason: `inconclusive after ${look.attempt} windows: ${analysis.reasons.join('; ')}` };
  }
  return { next: 'look-again' };
}

/** Whether a look's analysis is worth recording (MLflow tag, query): every decision and every window's end. */
export const worthRecording = (look: Look, outcome: LookOutcome): boolean => look.final || outcome.next !== 'look-again';
