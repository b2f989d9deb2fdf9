/**
 * The rollout's per-phase decision loop as pure functions, so that the workflow (workflows/canary-rollout.ts) and
 * the simulator (bench/canary-sim.ts) run the same rules: the phases, when to look at a window, what a look's
 * verdict means, and what it leaves for later looks.
 */
import { windowErrors, type Analysis, type LookContext } from './canary-analysis';
import type { EventStratum } from './canary-evidence';
import type { SlotWindowStats, WindowStats } from './inference-admin/window';
import type { RolloutInput } from './pipeline-input';

/** Looks per window: the sequential tests may end a window at a quarter, a half, three quarters, or its end. */
const LOOKS_PER_WINDOW = 4;

export interface Phase { phase: 'shadow' | 'traffic'; weight: number; seconds: number }

/** The phases of a rollout in order: shadow (unless it has no seconds), then each traffic step. */
export function rolloutPhases(rollout: RolloutInput): Phase[] {
  return [
    ...(rollout.shadowSeconds > 0 ? [{ phase: 'shadow' as const, weight: 0, seconds: rollout.shadowSeconds }] : []),
    ...rollout.steps.map((w) => ({ phase: 'traffic' as const, weight: w, seconds: rollout.windowSeconds })),
  ];
}

export interface Look {
  attempt: number;
  /** Seconds of the phase behind this look (the window the stats read covers). */
  elapsedSeconds: number;
  /** The window's scheduled end (not only an interim look). */
  final: boolean;
}

/** Every look a phase may take: LOOKS_PER_WINDOW per window (whole seconds, at least 1 apart), over its extensions. */
export function phaseLooks(windowSeconds: number, maxExtensions: number): Look[] {
  const looks: Look[] = [];
  for (let attempt = 1; attempt <= maxExtensions + 1; attempt++) {
    const start = windowSeconds * (attempt - 1);
    const ends = [...new Set(Array.from({ length: LOOKS_PER_WINDOW }, (_, k) => start + Math.max(1, Math.round((windowSeconds * (k + 1)) / LOOKS_PER_WINDOW))))];
    for (const end of ends) looks.push({ attempt, elapsedSeconds: end, final: end === start + windowSeconds });
  }
  return looks;
}

/** What the rollout's earlier looks leave for later ones (LookContext.baseline and .earlier); starts as { earlier: [] }. */
export interface Seen { baseline?: SlotWindowStats; earlier: EventStratum[] }

/** The context the analysis needs for a look of a rollout with these settings, given what earlier phases saw. */
export function lookContext(rollout: RolloutInput, look: Look, seen: Seen): LookContext {
  return { final: look.final, phases: rolloutPhases(rollout).length, looksPerPhase: phaseLooks(rollout.windowSeconds, rollout.maxExtensions).length, ...seen };
}

/** Keeps what later looks need from this one: stable's counts as a baseline, and a passed phase's errors. */
export function remember(seen: Seen, stats: WindowStats, phase: Phase['phase'], outcome: LookOutcome, minRequests: number): void {
  if (stats.stable.requests >= minRequests) seen.baseline = stats.stable;
  const errors = outcome.next === 'pass' ? windowErrors(stats, phase) : undefined;
  if (errors) seen.earlier.push(errors);
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
