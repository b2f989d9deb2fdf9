import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { venvBin } from '../../lib/paths';
import { httpOk, type ManagedProcess, onFreePort, startProcess } from './managed-process';

export interface MlflowServer extends ManagedProcess {
  readonly url: string;
  readonly port: number;
}

/**
 * MLflow tracking server with a SQLite backend and artifacts served by the server itself (`--serve-artifacts`),
 * so clients only ever talk HTTP to one address. State lives in `dir`; restarting on the same dir keeps it.
 * `backendStoreUri` replaces the SQLite file with another SQLAlchemy store, e.g. the `url` of startPostgres (which
 * several servers can share); artifacts stay in `dir`.
 */
export async function startMlflow(opts: {
  dir: string;
  host?: string;
  port?: number;
  backendStoreUri?: string;
}): Promise<MlflowServer> {
  const host = opts.host ?? '127.0.0.1';
  mkdirSync(join(opts.dir, 'artifacts'), { recursive: true });
  return onFreePort(opts.port, (port) => startMlflowOn(opts, host, port));
}

async function startMlflowOn(opts: { dir: string; backendStoreUri?: string }, host: string, port: number): Promise<MlflowServer> {
  const url = `http://${host}:${port}`;
  const proc = await startProcess({
    name: 'mlflow',
    command: venvBin('mlflow'),
    args: [
      'server',
      '--backend-store-uri', opts.backendStoreUri ?? `sqlite:///${join(opts.dir, 'mlflow.db')}`,
      '--artifacts-destination', join(opts.dir, 'artifacts'),
      '--serve-artifacts',
      '--host', host,
      '--port', String(port),
      '--workers', '1',
    ],
    // The job runner (a pool of huey consumers for GenAI evaluation jobs) is unused by ferops and costs several
    // processes on a 2-core machine.
    env: { MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false', PYTHONUNBUFFERED: '1' },
    logFile: join(opts.dir, 'mlflow.log'),
    ready: () => httpOk(`${url}/health`),
    readyTimeoutMs: 180_000,
  });
  return Object.assign(proc, { url, port });
}
