import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDesiredState } from '../lib/inference-admin/desired-state';
import { MlflowClient } from '../lib/mlflow';
import { ReplicaRefusedState, startInferenceFleet, type InferenceFleet } from './inference-fleet';
import { freePort, portTaken, type ManagedProcess } from './processes/managed-process';
import { processStartId } from '../lib/process-identity';
import { startMlflow } from './processes/mlflow';
import { logContains, startNodeService } from './processes/node-service';
import { startTemporal } from './processes/temporal';

export interface StackOptions {
  dataDir: string;
  /** Fixed ports (the documented defaults) for a user's stack; 0 picks free ports (tests). */
  ports: { temporal: number; temporalUi: number; mlflow: number; inference: number };
  ui: boolean;
  modelName: string;
  /** Inference replicas (FEROPS_INFERENCE_REPLICAS, default 1); more than one run behind HAProxy. */
  replicas?: number;
  /** MLflow's backend store (default: SQLite in its dir), e.g. a PostgreSQL URL. */
  mlflowBackendStoreUri?: string;
  /** Extra environment for the worker and the inference service (test overrides). */
  env?: NodeJS.ProcessEnv;
}

export interface Stack {
  temporalAddress: string;
  temporalUiUrl?: string;
  mlflowUrl: string;
  inferenceUrl: string;
  adminToken: string;
  dataDir: string;
  /** The service env the stack's processes got (the CLI and tests reuse it). */
  env: NodeJS.ProcessEnv;
  processes: Record<'temporal' | 'mlflow' | 'worker', ManagedProcess>;
  /** The inference replicas (and their load balancer), each following the desired state in the registry. */
  inference: InferenceFleet;
  /** Why the replicas do not serve the desired state they were started with, when they cannot (ReplicaRefusedState). */
  notServing?: string;
  /** Stops and starts one process on the same port and state dir (Temporal and MLflow keep their databases); `inference` restarts every replica. */
  restart(name: 'worker' | 'inference' | 'temporal' | 'mlflow'): Promise<void>;
  stop(): Promise<void>;
}

export const DEFAULT_PORTS = { temporal: 7233, temporalUi: 8233, mlflow: 5000, inference: 8080 };

/**
 * Starts the embedded stack: Temporal dev server (+ UI), MLflow, the inference service and the worker, each a
 * child process with its state under `dataDir`, so a restart finds every history, run and model again.
 */
export async function startStack(o: StackOptions): Promise<Stack> {
  await refuseTakenPorts(o.ports);
  mkdirSync(o.dataDir, { recursive: true });
  const logDir = join(o.dataDir, 'logs');
  const adminToken = readOrCreateToken(join(o.dataDir, 'admin-token'));
  // How to undo what started so far, should a later start fail.
  const started: { stop(): Promise<void> }[] = [];
  try {
    const temporalOpts = { dir: join(o.dataDir, 'temporal'), port: o.ports.temporal, uiPort: o.ports.temporalUi, ui: o.ui };
    const temporal = await startTemporal(temporalOpts);
    started.push(temporal);
    const mlflowOpts = { dir: join(o.dataDir, 'mlflow'), port: o.ports.mlflow, backendStoreUri: o.mlflowBackendStoreUri };
    const mlflow = await startMlflow(mlflowOpts);
    started.push(mlflow);
    const port = o.ports.inference || (await freePort());
    const inferenceUrl = `http://127.0.0.1:${port}`;
    const replicas = o.replicas ?? replicaCount(process.env.FEROPS_INFERENCE_REPLICAS);
    const env: NodeJS.ProcessEnv = {
      FEROPS_DATA_DIR: o.dataDir,
      FEROPS_TEMPORAL_ADDRESS: temporal.address,
      FEROPS_MLFLOW_URL: mlflow.url,
      FEROPS_INFERENCE_URL: inferenceUrl,
      FEROPS_ADMIN_TOKEN: adminToken,
      FEROPS_MODEL_NAME: o.modelName,
      // The try-it page's status strip links here (services/inference/usecases/status.ts); the dev server has one namespace.
      ...(temporal.uiUrl ? { FEROPS_TEMPORAL_UI_URL: `${temporal.uiUrl}/namespaces/default` } : {}),
      FEROPS_MLFLOW_UI_URL: mlflow.url,
      ...o.env,
    };
    const inference = await startInferenceFleet({ count: replicas, publicPort: port, dataDir: o.dataDir, logDir, env });
    started.push(inference);
    env.FEROPS_INFERENCE_DISCOVERY ??= inference.discovery;
    const notServing = await whenServing(inference, mlflow.url, o.modelName);
    const startWorker = () =>
      startNodeService({ name: 'worker', entry: 'services/worker/main.ts', env, logDir, ready: logContains(join(logDir, 'worker.log'), 'worker ready'), readyTimeoutMs: 180_000 });
    const processes = { temporal, mlflow, worker: await startWorker() };
    started.push(processes.worker);
    const stack: Stack = {
      temporalAddress: temporal.address,
      temporalUiUrl: temporal.uiUrl,
      mlflowUrl: mlflow.url,
      inferenceUrl,
      adminToken,
      dataDir: o.dataDir,
      env,
      processes,
      inference,
      notServing,
      async restart(name) {
        if (name === 'inference') {
          for (let i = 0; i < inference.replicas.length; i++) await inference.restart(i);
          stack.notServing = await whenServing(inference, mlflow.url, o.modelName);
          return;
        }
        await processes[name].stop();
        // Servers come back on the ports they had (clients hold those addresses) and on the same state dirs.
        if (name === 'temporal') processes.temporal = await startTemporal({ ...temporalOpts, port: portOf(temporal.address), uiPort: temporal.uiUrl ? portOf(temporal.uiUrl) : undefined });
        else if (name === 'mlflow') processes.mlflow = await startMlflow({ ...mlflowOpts, port: mlflow.port });
        else processes.worker = await startWorker();
      },
      async stop() {
        // Reverse start order: clients first, servers last, so nothing logs connection errors while stopping.
        await processes.worker.stop();
        await inference.stop();
        for (const p of [processes.mlflow, processes.temporal]) await p.stop();
      },
    };
    const pids = { ...Object.fromEntries(Object.entries(processes).map(([k, p]) => [k, p.pid])), inference: inference.replicas.map((r) => r.process.pid), loadBalancer: inference.loadBalancer?.pid };
    // Start ids, so that `stack down` never signals a process that was given one of these pids later.
    const startIds = Object.fromEntries(Object.values(pids).flat().filter((pid) => pid !== undefined).map((pid) => [pid, processStartId(pid)]));
    writeFileSync(join(o.dataDir, 'stack.json'), JSON.stringify({ pids, startIds, temporalAddress: temporal.address, temporalUiUrl: temporal.uiUrl, mlflowUrl: mlflow.url, inferenceUrl }, null, 2));
    return stack;
  } catch (e) {
    for (const p of started.reverse()) await p.stop();
    throw e;
  }
}

/**
 * Fixed ports must be free before anything starts. Why: each server's readiness check asks its port, so a server
 * already there (a stack started before) answered for the new one, the start "succeeded" beside the old stack, and
 * `stack down` then stopped only the new processes, leaving the old ones running on the same data.
 */
async function refuseTakenPorts(ports: StackOptions['ports']): Promise<void> {
  const named = [['Temporal', ports.temporal, 'FEROPS_TEMPORAL_ADDRESS'], ['Temporal UI', ports.temporalUi, 'FEROPS_TEMPORAL_UI_PORT'],
    ['MLflow', ports.mlflow, 'FEROPS_MLFLOW_URL'], ['inference', ports.inference, 'FEROPS_INFERENCE_URL']] as const;
  const taken = [];
  for (const [name, port, key] of named) if (port && (await portTaken(port))) taken.push(`${port} (${name}, ${key})`);
  if (taken.length === 0) return;
  const [noun, them, fix] = taken.length > 1 ? ['ports', 'them', 'those variables to free ports'] : ['port', 'it', 'that variable to a free port'];
  throw new Error(`${noun} already in use: ${taken.join(', ')}. A ferops stack may be running already ` +
    `(\`npm run ferops -- stack down\` stops it); otherwise another program holds ${them}: set ${fix}.`);
}

const portOf = (address: string): number => Number(address.split(':').pop());

function readOrCreateToken(file: string): string {
  if (process.env.FEROPS_ADMIN_TOKEN) return process.env.FEROPS_ADMIN_TOKEN;
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(32).toString('hex');
  writeFileSync(file, token, { mode: 0o600 });
  return token;
}

/**
 * When the registry names a stable model, the stack is up once every replica serves it (a caller's first request
 * is answered, as when the stack loaded the champion itself); a fresh registry has nothing to serve yet.
 */
async function whenServing(inference: InferenceFleet, mlflowUrl: string, modelName: string): Promise<string | undefined> {
  const desired = await readDesiredState(new MlflowClient({ baseUrl: mlflowUrl }), modelName);
  if (!desired.stable) return undefined;
  try {
    await inference.ready(desired.generation);
    return undefined;
  } catch (e) {
    // The rest of the stack still starts: mending the deployment (`ferops deploy --now`) needs Temporal and the worker.
    if (e instanceof ReplicaRefusedState) return e.message;
    throw e;
  }
}

function replicaCount(value: string | undefined): number {
  const n = Number(value ?? '1');
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`FEROPS_INFERENCE_REPLICAS=${value}: give a whole number from 1 to 64`);
  return n;
}
