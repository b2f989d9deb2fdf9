/**
 * Photo throughput of an inference fleet on this machine, like for like, in one run:
 *   node --import tsx bench/inference-fleet.ts [seconds=8]
 * Three configurations of the real service (services/inference/main.ts with its node flags, each replica standalone
 * on the demo bench model, as bench/inference-http.ts serves it):
 *   lb-1      HAProxy (infra/processes/haproxy.ts, health on /readyz, as infra/inference-fleet.ts runs it) -> 1 replica
 *   lb-3      the same HAProxy configuration -> 3 replicas
 *   direct-1  the lb-1 replica without HAProxy (what the load balancer itself costs)
 * All replicas stay up for the whole run and the configurations alternate (round 1: lb-1, lb-3, direct-1 at each
 * concurrency; round 2 ...), so a change in the machine's load lands on all three alike. Each cell is autocannon
 * (closed loop, keep-alive, autocannonRun from inference-http.ts) posting the same 640x480 real photo with one face
 * to POST /v1/predict (detection on) for `seconds`; then every replica finishes the requests abandoned at the deadline
 * before the next cell. Per configuration and concurrency it prints the median req/s with its range over the rounds,
 * the median of the rounds' p50/p99, the server CPU (replicas + HAProxy) per request, failed requests, and the
 * ratios lb-3 / lb-1 and lb-1 / direct-1 (of the medians, with the range of the per-round ratios).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startHaproxy } from '../infra/processes/haproxy';
import { freePort, httpOk, type ManagedProcess } from '../infra/processes/managed-process';
import { startNodeService } from '../infra/processes/node-service';
import { INFERENCE_NODE_FLAGS } from '../services/inference/node-flags';
import { defaultBenchModel } from './bench-models';
import { autocannonRun } from './inference-http';
import { benchPhoto } from './real-inputs';

const CONCURRENCY = [8, 32];
const ROUNDS = 3;
const WARM_UP_S = 3;

/** The per-replica settings a user would pick for each fleet size (FEROPS_CV_WORKERS, FEROPS_ORT_THREADS). */
interface Tuning {
  cvWorkers: number;
  ortThreads: number;
}
// Each size tuned as a user would for throughput: one detection worker per core, split among the replicas, at least
// one each (with 0, detection runs on the event loop: HAProxy's /readyz checks timed out at 500 ms behind queued
// detections, replicas went DOWN and requests failed). On 2 cores: 2 workers for 1 replica (the service's default,
// docs/inference.md#face-workers), 1 for each of 3. One intra-op thread everywhere: what FEROPS_ORT_THREADS=0 picks
// for the demo model (docs/benchmarks.md).
const tuned = (replicas: number): Tuning => ({ cvWorkers: Math.max(1, Math.floor(availableParallelism() / replicas)), ortThreads: 1 });
const SINGLE = tuned(1);
const FLEET_MEMBER = tuned(3);

interface Target {
  name: string;
  url: string;
  description: string;
  /** What serves it: its CPU time is the configuration's cost. */
  processes: ManagedProcess[];
}

/** One standalone replica serving `modelDir` from start, with its own port and files under `root`. */
async function startReplica(id: string, modelDir: string, tuning: Tuning, root: string): Promise<{ url: string; process: ManagedProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = await startNodeService({
    name: `inference-${id}`,
    entry: 'services/inference/main.ts',
    nodeFlags: INFERENCE_NODE_FLAGS,
    env: {
      FEROPS_INFERENCE_PORT: String(port),
      FEROPS_REPLICA_ID: id,
      FEROPS_DESIRED_STATE: 'off',
      FEROPS_STABLE_MODEL: modelDir,
      FEROPS_MODEL_DIRS: dirname(modelDir),
      FEROPS_LOG_LEVEL: 'silent',
      FEROPS_ADMIN_TOKEN: randomBytes(16).toString('hex'),
      FEROPS_FEEDBACK_DIR: join(root, id, 'feedback'),
      FEROPS_MODEL_CACHE_DIR: join(root, id, 'model-cache'),
      FEROPS_CV_WORKERS: String(tuning.cvWorkers),
      FEROPS_ORT_THREADS: String(tuning.ortThreads),
    },
    logDir: join(root, 'logs'),
    ready: () => httpOk(`${url}/readyz`),
  });
  return { url, process: proc };
}

/**
 * Waits until no replica is working on a request: autocannon abandons the requests in flight at a cell's end, and
 * autocannonRun's closing request, queued behind them, reaches only one replica and one detection worker. The
 * service counts a request in flight until its work settles, even when the client has gone (http/admission.ts).
 */
async function settle(urls: string[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (const url of urls) {
    for (;;) {
      const text = await (await fetch(`${url}/metrics`)).text();
      if (/^ferops_inference_inflight_requests 0$/m.test(text)) break;
      if (Date.now() > deadline) throw new Error(`${url} still had requests in flight 120 s after a cell`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const clockTicksPerS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/**
 * CPU time (user + system, ms) used so far by these processes and their children: each ManagedProcess leads its
 * own process group. Throughput on a shared machine depends on the share of the cores the processes get; the CPU
 * each request took does not.
 */
function cpuMs(processes: ManagedProcess[]): number {
  const groups = new Set(processes.map((p) => p.pid));
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // proc(5): after "(comm) " come state, ppid, pgrp, ... utime (14th field) and stime (15th).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (groups.has(Number(fields[2]))) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / clockTicksPerS;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs: number[], digits: number) => `${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}`;
const settings = (t: Tuning) => `FEROPS_CV_WORKERS=${t.cvWorkers} FEROPS_ORT_THREADS=${t.ortThreads}`;

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 8);
  const model = defaultBenchModel();
  const photo = await benchPhoto();

  const root = mkdtempSync(join(tmpdir(), 'ferops-bench-fleet-'));
  const processes: ManagedProcess[] = [];
  const starting: Promise<unknown>[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      await Promise.all(starting);
      for (const p of processes.reverse()) await p.stop();
      rmSync(root, { recursive: true, force: true });
    })());
  /** Starts a process unless stopAll() has begun; stopAll() waits for every one started before it, then stops it. */
  const tracked = <T extends ManagedProcess | { process: ManagedProcess }>(start: () => Promise<T>): Promise<T> => {
    if (stopping) return Promise.reject(new Error('stopping: not starting another process'));
    const up = start().then((r) => {
      processes.push('process' in r ? r.process : r);
      return r;
    });
    starting.push(up.catch(() => undefined));
    return up;
  };
  // Every child runs in its own process group (managed-process.ts), so Ctrl-C reaches this process alone.
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  process.once('SIGTERM', () => void stopAll().then(() => process.exit(143)));

  try {
    const [single, ...fleet] = await Promise.all([
      tracked(() => startReplica('single', model.dir, SINGLE, root)),
      ...[1, 2, 3].map((i) => tracked(() => startReplica(`fleet-${i}`, model.dir, FLEET_MEMBER, root))),
    ]);
    const lb1 = await tracked(() => startHaproxy({ dir: join(root, 'haproxy-1'), servers: [single.url], healthPath: '/readyz' }));
    const lb3 = await tracked(() => startHaproxy({ dir: join(root, 'haproxy-3'), servers: fleet.map((r) => r.url), healthPath: '/readyz' }));
    const replicaUrls = [single.url, ...fleet.map((r) => r.url)];
    const targets: Target[] = [
      { name: 'lb-1', url: lb1.url, description: `HAProxy -> 1 replica, ${settings(SINGLE)}`, processes: [lb1, single.process] },
      { name: 'lb-3', url: lb3.url, description: `HAProxy -> 3 replicas, each ${settings(FLEET_MEMBER)}`, processes: [lb3, ...fleet.map((r) => r.process)] },
      { name: 'direct-1', url: single.url, description: 'the lb-1 replica without HAProxy', processes: [single.process] },
    ];

    // V8 optimises the hot paths under the first load (inference-http.ts's warm-up): every replica gets some first.
    let warmUpFailed = 0;
    for (const t of targets) warmUpFailed += (await autocannonRun(`${t.url}/v1/predict`, photo, 'image/jpeg', 8, WARM_UP_S)).failed;
    await settle(replicaUrls);

    const haproxy = execFileSync('haproxy', ['-v'], { encoding: 'utf8' }).split('\n')[0];
    console.log(`# ${new Date().toISOString()}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'})`);
    console.log(`# ${seconds}s per cell, ${ROUNDS} rounds, model ${model.label}, photo grace_hopper.jpg padded to 640x480 JPEG, POST /v1/predict (detect on)`);
    console.log(`# ${haproxy}; node ${process.version} ${INFERENCE_NODE_FLAGS.join(' ')}; warm-up ${WARM_UP_S}s at concurrency 8 per configuration, ${warmUpFailed} failed`);
    for (const t of targets) console.log(`# ${t.name}: ${t.description}`);
    if (readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1') {
      console.log('# kernel.sched_autogroup_enabled=1: each replica leads its own session, so it gets its own share of the cores against other processes');
    }

    const runs = new Map<string, { rps: number; p50: number; p99: number; failed: number; cpuMsPerRequest: number }[]>();
    const key = (name: string, c: number) => `${name}@${c}`;
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of CONCURRENCY) {
        for (const t of targets) {
          const cpuBefore = cpuMs(t.processes);
          const r = await autocannonRun(`${t.url}/v1/predict`, photo, 'image/jpeg', c, seconds);
          await settle(replicaUrls);
          // Served: the answered requests, the `c` abandoned at the deadline (computed all the same) and the closing one.
          const cpuMsPerRequest = (cpuMs(t.processes) - cpuBefore) / (r.rps * seconds + c + 1);
          runs.set(key(t.name, c), [...(runs.get(key(t.name, c)) ?? []), { ...r, cpuMsPerRequest }]);
        }
      }
    }
    console.log(`# end ${new Date().toISOString()}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

    console.log('| configuration | concurrency | req/s median (min-max) | p50 ms | p99 ms | server CPU ms/request | failed |');
    console.log('|---|---|---|---|---|---|---|');
    for (const c of CONCURRENCY) {
      for (const t of targets) {
        const rs = runs.get(key(t.name, c))!;
        const failed = rs.reduce((n, r) => n + r.failed, 0);
        console.log(
          `| ${t.name} | ${c} | ${median(rs.map((r) => r.rps)).toFixed(1)} (${range(rs.map((r) => r.rps), 1)}) | ` +
            `${median(rs.map((r) => r.p50)).toFixed(1)} | ${median(rs.map((r) => r.p99)).toFixed(1)} | ${median(rs.map((r) => r.cpuMsPerRequest)).toFixed(1)} | ${failed} |`,
        );
      }
    }
    console.log('| concurrency | req/s lb-3 / lb-1 (rounds) | req/s lb-1 / direct-1 (rounds) | CPU/request lb-3 / lb-1 |');
    console.log('|---|---|---|---|');
    const of = (name: string, c: number, field: 'rps' | 'cpuMsPerRequest') => runs.get(key(name, c))!.map((r) => r[field]);
    const ratio = (a: string, b: string, c: number, field: 'rps' | 'cpuMsPerRequest') => {
      const [x, y] = [of(a, c, field), of(b, c, field)];
      return `${(median(x) / median(y)).toFixed(2)}x (${range(x.map((v, i) => v / y[i]), 2)})`;
    };
    for (const c of CONCURRENCY) {
      console.log(`| ${c} | ${ratio('lb-3', 'lb-1', c, 'rps')} | ${ratio('lb-1', 'direct-1', c, 'rps')} | ${ratio('lb-3', 'lb-1', c, 'cpuMsPerRequest')} |`);
    }
  } finally {
    await stopAll();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
