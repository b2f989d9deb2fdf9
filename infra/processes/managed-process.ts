import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A child process we own: started in its own process group so that stopping it also stops its children. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or null when killed by a signal). */
  readonly exited: Promise<number | null>;
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL to the whole group at once, as a crash would (chaos tests). */
  kill(): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Polled until it returns true; the process counts as started only then. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
}

export async function startProcess(opts: StartOptions): Promise<ManagedProcess> {
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const fd = openSync(opts.logFile, 'a');
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve((exitCode = code)));
    child.once('error', () => resolve((exitCode = -1)));
  });
  const proc: ManagedProcess = {
    name: opts.name,
    pid: child.pid ?? -1,
    logFile: opts.logFile,
    exited,
    stop: (graceMs = 10_000) => stopGroup(child.pid, exited, graceMs),
    kill: async () => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
      await exited;
    },
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`${opts.name} exited (${exitCode}) before it was ready:\n${tail(opts.logFile)}`);
    if (await opts.ready().catch(() => false)) return proc;
    await sleep(250);
  }
  await proc.stop();
  throw new Error(`${opts.name} was not ready after ${opts.readyTimeoutMs ?? 120_000} ms:\n${tail(opts.logFile)}`);
}

async function stopGroup(pid: number | undefined, exited: Promise<number | null>, graceMs: number): Promise<void> {
  if (!pid) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      /* already gone */
    }
  };
  signal('SIGTERM');
  // Unref'd: a timer left running after a quick exit would keep the caller's process alive for the whole grace.
  const done = await Promise.race([exited.then(() => true), sleep(graceMs, false, { ref: false })]);
  if (!done) {
    signal('SIGKILL');
    await exited;
  }
}

export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Where picked ports come from: below the kernel's ephemeral range (ip_local_port_range), which outgoing
 * connections take their local ports from. A port picked from that range (bind(0)) can be taken by a client
 * socket (a readiness probe, a gRPC channel) before its server binds it, seconds later: a clean-clone CI run saw an
 * inference replica fail with EADDRINUSE on its pinned port while Temporal and MLflow started. Undefined where the
 * range cannot be read or leaves too little room below it.
 */
export function listenerPortRange(rangeFile = '/proc/sys/net/ipv4/ip_local_port_range'): [number, number] | undefined {
  try {
    const low = Number(readFileSync(rangeFile, 'utf8').trim().split(/\s+/)[0]);
    return low >= LISTENER_PORTS_FROM + 4096 ? [LISTENER_PORTS_FROM, low] : undefined;
  } catch {
    return undefined;
  }
}
const LISTENER_PORTS_FROM = 15_000;
/** Ports handed out lately: a caller picks several before it binds any, and must not get one twice. */
const recentlyPicked = new Map<number, number>();
const PICK_MEMORY_MS = 120_000;

/** A TCP port that was free a moment ago on 127.0.0.1 (tests bind services to it), outside the ephemeral range. */
export async function freePort(): Promise<number> {
  const range = listenerPortRange();
  const now = Date.now();
  for (const [port, at] of recentlyPicked) if (now - at > PICK_MEMORY_MS) recentlyPicked.delete(port);
  for (let tries = 0; range && tries < 100; tries++) {
    const port = range[0] + Math.floor(Math.random() * (range[1] - range[0]));
    if (recentlyPicked.has(port) || (await portTaken(port))) continue;
    recentlyPicked.set(port, now);
    return port;
  }
  return ephemeralPort();
}

/** A port the kernel picks (bind to 0): where the ephemeral range leaves no other room. */
function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Whether something already listens on 127.0.0.1:`port` (binding there fails as taken). */
export async function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(true) : reject(err)));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(false)));
  });
}

/** How a server says its port was taken: Node and Go ("bind: address already in use"), Python (Errno 98), PostgreSQL. */
const PORT_TAKEN = /address already in use|EADDRINUSE/i;

/**
 * Starts a server on `pinned`, or on a port freePort() picks. A picked port was only free a moment ago: a server
 * that takes seconds to bind it (MLflow, Temporal) can find it taken by then, so it is started again on another
 * port, up to `tries` times in all. A pinned port is the caller's choice and is tried once.
 */
export async function onFreePort<T>(pinned: number | undefined, start: (port: number) => Promise<T>, tries = 3, pick = freePort): Promise<T> {
  if (pinned) return start(pinned);
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await pick());
    } catch (err) {
      if (attempt >= tries || !PORT_TAKEN.test(err instanceof Error ? err.message : String(err))) throw err;
    }
  }
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}
