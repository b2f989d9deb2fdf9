import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { startTemporal, type TemporalServer } from '../../infra/processes/temporal';

/** A real Temporal dev server in a temp dir, a client, and a worker factory over the project's workflows. */
export interface TemporalTestEnv {
  server: TemporalServer;
  client: Client;
  nativeConnection: NativeConnection;
  dir: string;
  createWorker(o: Omit<WorkerOptions, 'connection' | 'workflowBundle' | 'workflowsPath'>): Promise<Worker>;
  teardown(): Promise<void>;
}

let bundle: Awaited<ReturnType<typeof bundleWorkflowCode>> | undefined;

export async function startTemporalTestEnv(): Promise<TemporalTestEnv> {
  // Worker state changes are logged at INFO; tests only want warnings.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = mkdtempSync(join(tmpdir(), 'ferops-temporal-'));
  const server = await startTemporal({ dir });
  const connection = await Connection.connect({ address: server.address });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const client = new Client({ connection });
  // Bundling takes seconds: once per test process.
  bundle ??= await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger });
  return {
    server, client, nativeConnection, dir,
    createWorker: (o) => Worker.create({ ...o, connection: nativeConnection, workflowBundle: bundle! }),
    async teardown() {
      await connection.close();
      await nativeConnection.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };
