import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MlflowClient } from '../lib/mlflow';
import { freePort, httpOk, type ManagedProcess } from './processes/managed-process';
import { startMlflow } from './processes/mlflow';
import { INFERENCE_NODE_FLAGS } from '../services/inference/node-flags';
import { logContains, startNodeService } from './processes/node-service';
import { startTemporal } from './processes/temporal';
import { driftScheduleFromEnv, ensureDriftScheduleAt } from './schedules';

export interface StackOptions {
  dataDir: string;
  /** Fixed ports (the documented defaults) for a user's stack; 0 picks free ports (tests). */
  ports: { temporal: number; temporalUi: number; mlflow: number; inference: number };
  ui: boolean;
  modelName: string;
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
  processes: Record<'temporal' | 'mlflow' | 'inference' | 'worker', ManagedProcess>;
  /** Stops and starts one process on the same port and state dir (Temporal and MLflow keep their databases). */
  restart(name: 'worker' | 'inference' | 'temporal' | 'mlflow'): Promise<void>;
  stop(): Promise<void>;
}

export const DEFAULT_PORTS = { temporal: 7233, temporalUi: 8233, mlflow: 5000, inference: 8080 };

/**
 * Starts the embedded stack: Temporal dev server (+ UI), MLflow, the inference service and the worker, each a
 * child process with its state under `dataDir`, so a restart finds every history, run and model again.
 */
export async function startStack(o: StackOptions): Promise<Stack> {
  mkdirSync(o.dataDir, { recursive: true });
  const logDir = join(o.dataDir, 'logs');
  const adminToken = readOrCreateToken(join(o.dataDir, 'admin-token'));
  const started: ManagedProcess[] = [];
  try {
    const temporalOpts = { dir: join(o.dataDir, 'temporal'), port: o.ports.temporal, uiPort: o.ports.temporalUi, ui: o.ui };
    const temporal = await startTemporal(temporalOpts);
    started.push(temporal);
    const mlflowOpts = { dir: join(o.dataDir, 'mlflow'), port: o.ports.mlflow };
    const mlflow = await startMlflow(mlflowOpts);
    started.push(mlflow);
    const port = o.ports.inference || (await freePort());
    const inferenceUrl = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = {
      FEROPS_DATA_DIR: o.dataDir,
      FEROPS_TEMPORAL_ADDRESS: temporal.address,
      FEROPS_MLFLOW_URL: mlflow.url,
      FEROPS_INFERENCE_URL: inferenceUrl,
      FEROPS_INFERENCE_PORT: String(port),
      FEROPS_ADMIN_TOKEN: adminToken,
      FEROPS_MODEL_NAME: o.modelName,
      ...o.env,
    };
    const startInference = () =>
      startNodeService({
        name: 'inference',
        entry: 'services/inference/main.ts',
        nodeFlags: INFERENCE_NODE_FLAGS,
        env,
        logDir,
        ready: () => httpOk(`${inferenceUrl}/healthz`),
      });
    const startWorker = () =>
      startNodeService({ name: 'worker', entry: 'services/worker/main.ts', env, logDir, ready: logContains(join(logDir, 'worker.log'), 'worker ready'), readyTimeoutMs: 180_000 });
    const processes = { temporal, mlflow, inference: await startInference(), worker: await startWorker() };
    started.push(processes.inference, processes.worker);
    await restoreChampion(mlflow.url, inferenceUrl, adminToken, o.modelName);
    // After the worker is ready, so the first scheduled driftMonitor finds a worker; idempotent across restarts.
    await ensureDriftScheduleAt(temporal.address, driftScheduleFromEnv({ ...process.env, ...env }));
    const stack: Stack = {
      temporalAddress: temporal.address,
      temporalUiUrl: temporal.uiUrl,
      mlflowUrl: mlflow.url,
      inferenceUrl,
      adminToken,
      dataDir: o.dataDir,
      env,
      processes,
      async restart(name) {
        await processes[name].stop();
        // Servers come back on the ports they had (clients hold those addresses) and on the same state dirs.
        if (name === 'temporal') processes.temporal = await startTemporal({ ...temporalOpts, port: portOf(temporal.address), uiPort: temporal.uiUrl ? portOf(temporal.uiUrl) : undefined });
        else if (name === 'mlflow') processes.mlflow = await startMlflow({ ...mlflowOpts, port: mlflow.port });
        else if (name === 'worker') processes.worker = await startWorker();
        else processes.inference = await startInference();
        if (name === 'inference') await restoreChampion(mlflow.url, inferenceUrl, adminToken, o.modelName);
      },
      async stop() {
        // Reverse start order: clients first, servers last, so nothing logs connection errors while stopping.
        for (const p of [processes.worker, processes.inference, processes.mlflow, processes.temporal]) await p.stop();
      },
    };
    writeFileSync(join(o.dataDir, 'stack.json'), JSON.stringify({ pids: Object.fromEntries(Object.entries(processes).map(([k, p]) => [k, p.pid])), temporalAddress: temporal.address, temporalUiUrl: temporal.uiUrl, mlflowUrl: mlflow.url, inferenceUrl }, null, 2));
    return stack;
  } catch (e) {
    for (const p of started.reverse()) await p.stop();
    throw e;
  }
}

const portOf = (address: string): number => Number(address.split(':').pop());

function readOrCreateToken(file: string): string {
  if (process.env.FEROPS_ADMIN_TOKEN) return process.env.FEROPS_ADMIN_TOKEN;
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(32).toString('hex');
  writeFileSync(file, token, { mode: 0o600 });
  return token;
}

/** After a restart the service starts empty; the registry's champion is what should be serving. */
async function restoreChampion(mlflowUrl: string, inferenceUrl: string, token: string, modelName: string): Promise<void> {
  const champion = await new MlflowClient({ baseUrl: mlflowUrl }).getModelVersionByAlias(modelName, 'champion');
  if (!champion) return;
  const res = await fetch(`${inferenceUrl}/admin/v1/slots/stable`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ source: `models:/${modelName}/${champion.version}`, version: champion.version }),
  });
  if (!res.ok) throw new Error(`could not restore champion v${champion.version} into the service: ${res.status} ${await res.text()}`);
}
