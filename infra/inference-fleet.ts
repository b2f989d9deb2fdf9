import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InferenceAdminClient } from '../lib/inference-admin/client';
import { INFERENCE_NODE_FLAGS } from '../services/inference/node-flags';
import { startHaproxy } from './processes/haproxy';
import { freePort, httpOk, type ManagedProcess } from './processes/managed-process';
import { startNodeService } from './processes/node-service';

/**
 * A replica refused the desired state for good (a model gone from the registry, or one it cannot load): waiting
 * longer changes nothing, and the stack must still come up, since mending the deployment needs Temporal and a worker.
 */
export class ReplicaRefusedState extends Error {}

/**
 * Until `/readyz` answers 200 (the replica serves the desired state); throws after `timeoutMs`, or at once with
 * ReplicaRefusedState when the replica reports (admin API, with `adminToken`) that it cannot apply that state.
 */
async function waitReady(url: string, adminToken: string | undefined, generation = 0, timeoutMs = 120_000): Promise<void> {
  const admin = adminToken ? new InferenceAdminClient(url, adminToken, 5_000) : undefined;
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(200)) {
    if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) return;
    const error = (await admin?.slots().catch(() => undefined))?.deployment?.error;
    // An earlier generation's refusal is history: the replica may not have read the one awaited yet.
    if (error && !error.retryable && (error.generation ?? 0) >= generation) {
      throw new ReplicaRefusedState(`replica ${url} cannot serve generation ${error.generation} of the desired state: ${error.message}`);
    }
  }
  throw new Error(`replica ${url} did not become ready in ${timeoutMs / 1000} s: ${await fetch(`${url}/readyz`).then((r) => r.text(), (e: Error) => e.message)}`);
}

export interface Replica { id: string; url: string; process: ManagedProcess }

export interface InferenceFleet {
  /** Where clients send predictions: the load balancer, or the only replica. */
  url: string;
  /** What the deploy activities read (FEROPS_INFERENCE_DISCOVERY): a file of replica URLs, rewritten on every change. */
  discovery: string;
  replicas: Replica[];
  loadBalancer?: ManagedProcess;
  /** Stops and starts replica `i` on its port (a crash and a reschedule). */
  restart(i: number): Promise<void>;
  /**
   * Resolves once every replica serves the desired state (`/readyz`); throws after two minutes, or at once
   * (ReplicaRefusedState) when a replica cannot apply it: `generation` (the desired one) or a later one.
   */
  ready(generation?: number): Promise<void>;
  /** Starts or stops replicas until there are `n`; new ones join the load balancer and discovery once started. */
  scale(n: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The embedded stack's inference fleet: `count` replicas, each following the desired state in the registry, and
 * with more than one, HAProxy (Debian's package) in front on the public port. Replicas get their own port,
 * feedback log and model cache: processes never share a file they write.
 */
export async function startInferenceFleet(o: { count: number; publicPort: number; dataDir: string; logDir: string; env: NodeJS.ProcessEnv }): Promise<InferenceFleet> {
  const single = o.count === 1;
  const discoveryFile = join(o.dataDir, 'inference-replicas.txt');
  const replicas: Replica[] = [];
  let loadBalancer: Awaited<ReturnType<typeof startHaproxy>> | undefined;

  const startReplica = async (index: number, port: number): Promise<Replica> => {
    const id = `replica-${index}`;
    const url = `http://127.0.0.1:${port}`;
    // Each replica asks the others for feedback on predictions it did not make (HAProxy's affinity sends most home).
    const own = single ? {} : {
      FEROPS_FEEDBACK_DIR: join(o.dataDir, 'feedback', id),
      FEROPS_MODEL_CACHE_DIR: join(o.dataDir, 'model-cache', id),
      FEROPS_INFERENCE_DISCOVERY: `file:${discoveryFile}`,
    };
    const process = await startNodeService({
      name: single ? 'inference' : `inference-${id}`,
      entry: 'services/inference/main.ts',
      nodeFlags: INFERENCE_NODE_FLAGS,
      env: { ...o.env, ...own, FEROPS_INFERENCE_PORT: String(port), FEROPS_REPLICA_ID: id, FEROPS_DESIRED_STATE: 'mlflow' },
      logDir: o.logDir,
      // Up, not ready: a fresh registry has nothing to serve yet. The load balancer checks /readyz.
      ready: () => httpOk(`${url}/healthz`),
    });
    return { id, url, process };
  };
  const publish = async () => {
    writeFileSync(discoveryFile, `${replicas.map((r) => r.url).join('\n')}\n`);
    await loadBalancer?.setServers(replicas.map((r) => r.url));
  };

  try {
    for (let i = 0; i < o.count; i++) replicas.push(await startReplica(i, single ? o.publicPort : await freePort()));
    if (!single) loadBalancer = await startHaproxy({ dir: join(o.dataDir, 'haproxy'), port: o.publicPort, servers: replicas.map((r) => r.url), healthPath: '/readyz' });
    await publish();
  } catch (e) {
    for (const r of replicas) await r.process.stop();
    throw e;
  }
  const fleet: InferenceFleet = {
    url: loadBalancer?.url ?? replicas[0].url,
    discovery: `file:${discoveryFile}`,
    replicas,
    loadBalancer,
    async restart(i) {
      const r = replicas[i];
      await r.process.stop();
      replicas[i] = await startReplica(i, Number(new URL(r.url).port));
    },
    ready: async (generation) => void (await Promise.all(replicas.map((r) => waitReady(r.url, o.env.FEROPS_ADMIN_TOKEN, generation)))),
    async scale(n) {
      if (single && n !== 1) throw new Error('a single-replica stack has no load balancer: start it with FEROPS_INFERENCE_REPLICAS > 1 to scale');
      while (replicas.length < n) {
        const r = await startReplica(replicas.length, await freePort());
        // HAProxy counts a server it has just been given as up before its first health check: joined only once
        // ready, a new replica gets no request it would answer 503.
        await waitReady(r.url, o.env.FEROPS_ADMIN_TOKEN).catch(async (e) => {
          await r.process.stop();
          throw e;
        });
        replicas.push(r);
        await publish();
      }
      while (replicas.length > n) {
        const r = replicas.pop()!;
        await publish();
        await r.process.stop();
      }
    },
    async stop() {
      await loadBalancer?.stop();
      for (const r of replicas) await r.process.stop();
    },
  };
  return fleet;
}
