import { EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_PARITY_FAILED } from './trainer-events';

export interface TrainerOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  error?: { code: string; message: string };
  lastCheckpoint?: string;
  stderrTail: string;
  /** Set when the trainer said nothing for the stall limit and was killed: how long, and its last event. */
  stalled?: { seconds: number; lastEvent: string };
}

export interface FailureVerdict {
  /** The ApplicationFailure type the workflow and the UI see. */
  type: 'BadInput' | 'ParityFailed' | 'TrainerInterrupted' | 'TrainerStalled' | 'TrainerFailed' | 'TrainerFailedTwice';
  retryable: boolean;
  message: string;
}

/** What the trainer said went wrong, in one line: its error event, else the exit status and the end of stderr. */
export const describeFailure = (run: TrainerOutcome): string =>
  run.stalled
    ? `no event for ${run.stalled.seconds} s (last: ${run.stalled.lastEvent}), so it was taken as hung and killed`
    : run.error ? `${run.error.code}: ${run.error.message}` : `exit ${run.exitCode ?? run.signal}: ${run.stderrTail.slice(-800)}`;

/**
 * Whether a failed trainer run is worth another attempt. Retries are for what can heal (a killed process, a lost
 * connection, memory or disk that frees up); a failure the same input reproduces ends the activity at once:
 * - exit 2 (bad config, bad dataset, no GPU) and exit 3 (the fp32 export is broken) are deterministic by contract;
 * - an unexpected error (exit 1) gets one more attempt, and ends it when that attempt fails with the same message,
 *   since a fault that heals does not repeat word for word.
 */
export function classifyFailure(run: TrainerOutcome, previousFailure: string | undefined): FailureVerdict {
  const why = describeFailure(run);
  // A hang is a fault of the host (a stuck device, file system or collective), not of the input: retried, and
  // the retry resumes from the last checkpoint.
  if (run.stalled) return { type: 'TrainerStalled', retryable: true, message: `trainer stalled: ${why}; the retry resumes from the last checkpoint` };
  if (run.exitCode === EXIT_BAD_INPUT) return { type: 'BadInput', retryable: false, message: `trainer refused its input: ${why}` };
  if (run.exitCode === EXIT_PARITY_FAILED) return { type: 'ParityFailed', retryable: false, message: `exported model is broken: ${why}` };
  if (run.exitCode === EXIT_INTERRUPTED) return { type: 'TrainerInterrupted', retryable: true, message: `trainer interrupted at ${run.lastCheckpoint ?? 'no checkpoint yet'}` };
  if (run.error && why === previousFailure) {
    return { type: 'TrainerFailedTwice', retryable: false, message: `trainer failed the same way on two attempts in a row, so a retry cannot help: ${why}` };
  }
  return { type: 'TrainerFailed', retryable: true, message: `trainer failed: ${why}` };
}
