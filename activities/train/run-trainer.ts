import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseTrainerLine, type TrainerEvent } from './trainer-events';

export interface TrainerRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  done?: Extract<TrainerEvent, { event: 'done' }>;
  error?: Extract<TrainerEvent, { event: 'error' }>;
  lastCheckpoint?: string;
  stderrTail: string;
}

export interface RunTrainerOptions {
  python: string;
  cwd: string;
  configPath: string;
  resumeFrom?: string;
  logDir: string;
  onEvent: (e: TrainerEvent) => void;
  signal?: AbortSignal;
  /** After SIGTERM the trainer writes a checkpoint; it is killed if it takes longer than this. */
  killGraceMs?: number;
}

/**
 * Runs the Python trainer as a child in its own process group and feeds its JSON lines to `onEvent`.
 * On abort it sends SIGTERM to the group (the trainer checkpoints and exits), then SIGKILL after the grace period.
 */
export async function runTrainer(o: RunTrainerOptions): Promise<TrainerRun> {
  mkdirSync(o.logDir, { recursive: true });
  const pidFile = join(o.logDir, 'trainer.pid');
  await stopOrphan(pidFile, o.killGraceMs ?? 30_000);
  const args = ['-m', 'ferops_trainer', '--config', o.configPath, ...(o.resumeFrom ? ['--resume', o.resumeFrom] : [])];
  const child = spawn(o.python, args, {
    cwd: o.cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  if (child.pid) writeFileSync(pidFile, String(child.pid));
  const run: TrainerRun = { exitCode: null, signal: null, stderrTail: '' };
  const events = createWriteStream(join(o.logDir, 'events.jsonl'), { flags: 'a' });
  const stderrLog = createWriteStream(join(o.logDir, 'trainer.stderr.log'), { flags: 'a' });
  child.stderr.on('data', (b: Buffer) => {
    stderrLog.write(b);
    run.stderrTail = (run.stderrTail + b.toString()).slice(-4000);
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const e = parseTrainerLine(line);
    if (!e) return;
    events.write(`${line.trim()}\n`);
    if (e.event === 'checkpoint') run.lastCheckpoint = e.path;
    if (e.event === 'done') run.done = e;
    if (e.event === 'error') run.error = e;
    o.onEvent(e);
  });
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, sig);
    } catch {
      /* already exited */
    }
  };
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    killGroup('SIGTERM');
    killTimer = setTimeout(() => killGroup('SIGKILL'), o.killGraceMs ?? 30_000);
  };
  if (o.signal?.aborted) onAbort();
  else o.signal?.addEventListener('abort', onAbort, { once: true });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, sig) => {
      clearTimeout(killTimer);
      o.signal?.removeEventListener('abort', onAbort);
      stderrLog.end();
      events.end();
      run.exitCode = code;
      run.signal = sig;
      resolve(run);
    });
  });
}

/**
 * A worker killed with SIGKILL cannot stop its trainer, which then trains on in the same output dir. Before a new
 * attempt starts one, the previous attempt's trainer (recorded by pid) is stopped like a cancelled one.
 */
async function stopOrphan(pidFile: string, graceMs: number): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  const alive = () => {
    try {
      process.kill(pid, 0);
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ferops_trainer');
    } catch {
      return false;
    }
  };
  if (!pid || !alive()) return;
  process.kill(-pid, 'SIGTERM');
  for (let waited = 0; alive() && waited < graceMs; waited += 200) await sleep(200);
  if (alive()) process.kill(-pid, 'SIGKILL');
}
