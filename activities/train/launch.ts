import { EXIT_CODE_OF_ERROR, EXIT_INTERRUPTED } from './trainer-events';

export interface TrainerLaunch {
  python: string;
  configPath: string;
  resumeFrom?: string;
  /** Processes to train with (one per GPU); above 1 the trainer runs under torchrun with DDP. */
  nproc: number;
}

/**
 * The trainer's command line: `python -m ferops_trainer` for one process, else the same module under torchrun
 * (`torch.distributed.run`, the console script's module, so the venv's python is enough). `--standalone` runs the
 * rendezvous on this host at a free port, so two trainings on one host cannot collide.
 */
export function trainerCommand(o: TrainerLaunch): { command: string; args: string[] } {
  if (!Number.isInteger(o.nproc) || o.nproc < 1) throw new Error(`nproc must be a positive integer, got ${o.nproc}`);
  const trainer = ['-m', 'ferops_trainer', '--config', o.configPath, ...(o.resumeFrom ? ['--resume', o.resumeFrom] : [])];
  const launcher = o.nproc > 1 ? ['-m', 'torch.distributed.run', '--standalone', `--nproc_per_node=${o.nproc}`] : [];
  return { command: o.python, args: [...launcher, ...trainer] };
}

/**
 * The process count a training asks for: the worker's FEROPS_TRAIN_NPROC (the host knows its GPUs), else the
 * trainer config's `nproc`, else 1. A config value that is not a positive integer launches one process, whose
 * trainer then rejects the config with a clear error.
 */
export function trainerNproc(workerNproc: number | undefined, trainerConfig: Record<string, unknown>): number {
  if (workerNproc !== undefined) return workerNproc;
  const n = trainerConfig.nproc;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : 1;
}

/**
 * The exit status in the trainer's own terms. torchrun exits 1 whenever a worker fails or it was signalled, which
 * would hide the trainer's contract (2 bad input, 3 parity failed, 75 interrupted); the events rank 0 wrote say
 * which it was.
 */
export function trainerExitCode(
  nproc: number,
  exitCode: number | null,
  seen: { error?: { code: string }; interrupted: boolean },
): number | null {
  if (nproc === 1 || exitCode === 0 || exitCode === null) return exitCode;
  if (seen.error) return EXIT_CODE_OF_ERROR[seen.error.code] ?? 1;
  return seen.interrupted ? EXIT_INTERRUPTED : exitCode;
}
