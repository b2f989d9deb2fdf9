import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { isSameProcess, processStartId } from '../../lib/process-identity';
import { trainerCommand, trainerExitCode } from './launch';
import { parseTrainerLine, type TrainerEvent } from './trainer-events';

export interface TrainerRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  done?: Extract<TrainerEvent, { event: 'done' }>;
  error?: Extract<TrainerEvent, { event: 'error' }>;
  lastCheckpoint?: string;
  stderrTail: string;
  /** Set when the trainer said nothing for `stallMs` and was killed. */
  stalled?: { seconds: number; lastEvent: string };
}

export interface RunTrainerOptions {
  python: string;
  cwd: string;
  configPath: string;
  resumeFrom?: string;
  logDir: string;
  onEvent: (e: TrainerEvent) => void;
  signal?: AbortSignal;
  /** Processes to train with; above 1 the trainer runs under torchrun (default 1). */
  nproc?: number;
  /** After SIGTERM the trainer writes a checkpoint; it is killed if it takes longer than this. */
  killGraceMs?: number;
  /**
   * A trainer that writes no event for this long is hung (a stuck GPU, file system or collective: the heartbeat,
   * sent from here, would hide it until the attempt's 12 h limit). Its group is killed at once, since a hung
   * process cannot write a checkpoint; the last one on disk stays. Unset: no limit.
   */
  stallMs?: number;
}

/** How long a killed, hung trainer may take to be reaped (a process in uninterruptible sleep never is). */
const REAP_AFTER_KILL_MS = 30_000;

/**
 * The names of the worker's environment the trainer gets. The worker holds secrets that training never needs
 * (FEROPS_ADMIN_TOKEN, KAGGLE_KEY, cloud credentials), so nothing else passes.
 */
const TRAINER_ENV: RegExp[] = [
  /^(PATH|HOME)$/, // programs the libraries run (a compiler for torch.compile); home-relative caches
  /^(USER|LOGNAME)$/, // torch's per-user cache dirs ask getpass, which fails for a uid without a passwd entry
  /^(LANG|LC_\w+)$/, // the text encoding of files and logs
  /^(TMPDIR|TMP|TEMP)$/, // scratch space of tempfile, torch.compile and the ONNX export
  /^PYTHON\w*$/, // interpreter settings (PYTHONPATH, PYTHONHASHSEED, ...)
  /^(CUDA|NVIDIA)_\w+$/, // which GPUs the trainer sees, and the driver capabilities of a container
  /^LD_LIBRARY_PATH$/, // driver libraries that NVIDIA container images mount outside the system path
  /^(OMP|MKL|OPENBLAS|KMP)_\w+$/, // thread counts, affinity and core type of the OpenMP and BLAS runtimes
  /^(HF_HOME|HF_HUB_CACHE|HF_HUB_OFFLINE|HF_HUB_DISABLE_TELEMETRY|TRANSFORMERS_OFFLINE|XDG_CACHE_HOME)$/, // where pretrained weights are cached, and offline mode
  /^HF_TOKEN$/, // the one secret training needs: from_pretrained of a gated or private hub model
  /^(HTTPS?_PROXY|NO_PROXY|https?_proxy|no_proxy|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE)$/, // reaching the hub from behind a proxy
  /^(PY)?TORCH\w*$/, // torch's own settings (TORCH_HOME, TORCHINDUCTOR_*, PYTORCH_CUDA_ALLOC_CONF)
  /^FEROPS_SEED$/, // the seed that the demo and the trainer tests move together
  /^(NCCL|GLOO)_\w+$/, // the collectives' network interface and debug settings under torchrun (NCCL_SOCKET_IFNAME, ...)
  /^LOGLEVEL$/, // torchrun's own log level
];

/** The trainer's environment: the allowed part of `env`, unbuffered so that each JSON line arrives as written. */
export function trainerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const kept = Object.entries(env).filter(([name]) => TRAINER_ENV.some((re) => re.test(name)));
  return { ...Object.fromEntries(kept), PYTHONUNBUFFERED: '1' };
}

/**
 * Runs the Python trainer as a child in its own process group and feeds its JSON lines to `onEvent`.
 * On abort it sends SIGTERM to the group (the trainer checkpoints and exits), then SIGKILL after the grace period.
 * A trainer silent for `stallMs` is killed at once and reported `stalled`.
 * Under torchrun the group holds the launcher, which forwards SIGTERM to its workers (they run in sessions of
 * their own and die with the launcher).
 */
export async function runTrainer(o: RunTrainerOptions): Promise<TrainerRun> {
  mkdirSync(o.logDir, { recursive: true });
  const pidFile = join(o.logDir, 'trainer.pid');
  await stopOrphan(pidFile, o.killGraceMs ?? 30_000);
  const nproc = o.nproc ?? 1;
  const { command, args } = trainerCommand({ python: o.python, configPath: o.configPath, resumeFrom: o.resumeFrom, nproc });
  const child = spawn(command, args, {
    cwd: o.cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: trainerEnv(process.env),
  });
  if (child.pid) {
    writeFileSync(pidFile, String(child.pid));
    writeFileSync(`${pidFile}.start-id`, processStartId(child.pid) ?? '');
  }
  const run: TrainerRun = { exitCode: null, signal: null, stderrTail: '' };
  let interrupted = false;
  const events = createWriteStream(join(o.logDir, 'events.jsonl'), { flags: 'a' });
  const stderrLog = createWriteStream(join(o.logDir, 'trainer.stderr.log'), { flags: 'a' });
  child.stderr.on('data', (b: Buffer) => {
    stderrLog.write(b);
    run.stderrTail = (run.stderrTail + b.toString()).slice(-4000);
  });
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, sig);
    } catch {
      /* already exited */
    }
  };
  let finish: (code: number | null, sig: NodeJS.Signals | null) => void = () => undefined;
  const result = new Promise<TrainerRun>((resolve, reject) => {
    child.once('error', reject);
    finish = (code, sig) => {
      finish = () => undefined;
      clearTimeout(killTimer);
      clearTimeout(stallTimer);
      o.signal?.removeEventListener('abort', onAbort);
      stderrLog.end();
      events.end();
      run.exitCode = trainerExitCode(nproc, code, { error: run.error, interrupted });
      run.signal = sig;
      resolve(run);
    };
    child.once('close', (code, sig) => finish(code, sig));
  });

  let lastEvent = 'none yet';
  let stallTimer: NodeJS.Timeout | undefined;
  const watchForStall = () => {
    clearTimeout(stallTimer);
    if (!o.stallMs) return;
    stallTimer = setTimeout(() => {
      run.stalled = { seconds: Math.round(o.stallMs! / 1000), lastEvent };
      killGroup('SIGKILL');
      // A process in uninterruptible sleep is never reaped: report anyway; the next attempt's orphan check meets it.
      setTimeout(() => finish(null, 'SIGKILL'), REAP_AFTER_KILL_MS).unref();
    }, o.stallMs);
  };
  watchForStall();
  createInterface({ input: child.stdout }).on('line', (line) => {
    const e = parseTrainerLine(line);
    if (!e) return;
    watchForStall();
    lastEvent = e.event === 'alive' ? `alive in ${e.phase}` : e.event === 'step' || e.event === 'epoch' ? `${e.event} at step ${e.step}, epoch ${e.epoch}` : e.event;
    events.write(`${line.trim()}\n`);
    if (e.event === 'checkpoint') run.lastCheckpoint = e.path;
    if (e.event === 'done') run.done = e;
    // The first error is the cause: under torchrun the other ranks then fail on the broken connection.
    if (e.event === 'error') run.error ??= e;
    if (e.event === 'interrupted') interrupted = true;
    o.onEvent(e);
  });
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    killGroup('SIGTERM');
    killTimer = setTimeout(() => killGroup('SIGKILL'), o.killGraceMs ?? 30_000);
  };
  if (o.signal?.aborted) onAbort();
  else o.signal?.addEventListener('abort', onAbort, { once: true });
  return result;
}

/**
 * A worker killed with SIGKILL cannot stop its trainer, which then trains on in the same output dir. Before a new
 * attempt starts one, the previous attempt's trainer (recorded by pid and start id) is stopped like a cancelled
 * one. After a reboot the pid may be another run's trainer, which the start id tells apart and leaves alone.
 */
async function stopOrphan(pidFile: string, graceMs: number): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  const startId = existsSync(`${pidFile}.start-id`) ? readFileSync(`${pidFile}.start-id`, 'utf8') || undefined : undefined;
  const alive = () => isSameProcess(pid, startId) && isTrainer(pid);
  if (!pid || !alive()) return;
  process.kill(-pid, 'SIGTERM');
  for (let waited = 0; alive() && waited < graceMs; waited += 200) await sleep(200);
  if (alive()) process.kill(-pid, 'SIGKILL');
}

const isTrainer = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ferops_trainer');
  } catch {
    return false;
  }
};
