/** The trainer's JSON-lines protocol (training-py/README.md), as the TypeScript side reads it. */
export type TrainerEvent =
  | { event: 'start'; device: string; train_size: number; steps_per_epoch: number; epochs: number; resumed_from_epoch: number | null; world_size?: number }
  | { event: 'step'; epoch: number; step: number; loss: number; lr: number }
  | { event: 'epoch'; epoch: number; epochs: number; step: number; train_loss: number; val_loss: number; val_accuracy: number; lr: number; images_per_s: number; seconds: number }
  | { event: 'checkpoint'; epoch: number; step: number; path: string }
  | { event: 'test'; accuracy: number; macro_f1: number }
  | {
      event: 'parity'; fp32_max_abs_diff: number; passed: boolean;
      int8_top1_agreement: number | null; int8_agreement_lower_bound: number | null; int8_samples: number | null;
      int8_shipped: boolean; int8_withheld_reason: string;
    }
  | { event: 'artifact'; kind: string; path: string }
  | { event: 'done'; model_dir: string; epochs_run: number; best_val_accuracy: number; test: { accuracy: number; macro_f1: number } }
  | { event: 'interrupted'; checkpoint: string }
  | { event: 'alive'; phase: string }
  | { event: 'error'; code: string; message: string; rank?: number };

/** Parses one stdout line; anything that is not a JSON event (a stray print) is returned as null, not thrown. */
export function parseTrainerLine(line: string): TrainerEvent | null {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return null;
  try {
    const obj = JSON.parse(trimmed) as { event?: unknown };
    return typeof obj.event === 'string' ? (obj as TrainerEvent) : null;
  } catch {
    return null;
  }
}

/** Exit codes the trainer documents: 2 the input is wrong, 3 the fp32 export is broken (neither heals on retry). */
export const EXIT_BAD_INPUT = 2;
export const EXIT_PARITY_FAILED = 3;
export const EXIT_INTERRUPTED = 75;
/** The exit status each error code implies (training-py/ferops_trainer/errors.py). */
export const EXIT_CODE_OF_ERROR: Readonly<Record<string, number>> = { bad_config: 2, bad_dataset: 2, no_gpu: 2, parity_failed: 3, internal: 1 };
