import { join } from 'node:path';
import { REPO_ROOT } from '../../lib/paths';
import { startProcess, type ManagedProcess } from './managed-process';
import { readFileSync } from 'node:fs';

/** Runs one of our TypeScript entry points (services/<name>/main.ts) as a child process under tsx. */
export function startNodeService(opts: {
  name: string;
  entry: string;
  env: NodeJS.ProcessEnv;
  logDir: string;
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
  /** Node/V8 flags before the entry point (e.g. the inference service's INFERENCE_NODE_FLAGS). */
  nodeFlags?: readonly string[];
}): Promise<ManagedProcess> {
  return startProcess({
    name: opts.name,
    command: process.execPath,
    args: [...(opts.nodeFlags ?? []), '--import', 'tsx', join(REPO_ROOT, opts.entry)],
    cwd: REPO_ROOT,
    env: opts.env,
    logFile: join(opts.logDir, `${opts.name}.log`),
    ready: opts.ready,
    readyTimeoutMs: opts.readyTimeoutMs,
  });
}

/** True once `marker` appears in the log file (for processes without an HTTP endpoint, like the worker). */
export const logContains = (file: string, marker: string) => async (): Promise<boolean> => {
  try {
    return readFileSync(file, 'utf8').includes(marker);
  } catch {
    return false;
  }
};
