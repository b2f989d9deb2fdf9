import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type FeropsConfig } from '../../../lib/config';
import { isAlive, isSameProcess } from '../../../lib/process-identity';
import { startStack, type Stack } from '../../../infra/stack';
import { type CommandSpec, type ParsedArgs, UsageError } from '../args';

/** The stack's ports come from the one config, so the CLI, worker and services agree on every address. */
export function stackPorts(c: FeropsConfig) {
  return {
    temporal: Number(c.temporalAddress.split(':').pop()),
    temporalUi: c.temporalUiPort,
    mlflow: Number(new URL(c.mlflowUrl).port || 80),
    inference: Number(new URL(c.inferenceUrl).port || 80),
  };
}

export function startConfiguredStack(config: FeropsConfig): Promise<Stack> {
  return startStack({ dataDir: config.dataDir, ports: stackPorts(config), ui: true, modelName: config.modelName });
}

export function printAddresses(s: Pick<Stack, 'temporalUiUrl' | 'mlflowUrl' | 'inferenceUrl' | 'dataDir' | 'notServing'>): void {
  if (s.notServing) {
    console.log(`  warning     : ${s.notServing}; serve another version with: npm run ferops -- deploy <version> --now --reason TEXT`);
  }
  console.log(`  Temporal UI : ${s.temporalUiUrl}`);
  console.log(`  MLflow UI   : ${s.mlflowUrl}`);
  console.log(`  Try it      : ${s.inferenceUrl}/  (drop a photo in a browser: boxes, crops, probabilities)`);
  console.log(`  Inference   : ${s.inferenceUrl}  (POST /v1/predict, GET /v1/status, GET /openapi.json, GET /metrics)`);
  console.log(`  Admin token : in ${join(s.dataDir, 'admin-token')}`);
  console.log(`  Logs        : ${join(s.dataDir, 'logs')} and the temporal/ and mlflow/ dirs beside it`);
}

export const STACK_ARGS: CommandSpec = { usage: 'stack up|down', positionals: 1 };

export async function stackCommand(args: ParsedArgs): Promise<number> {
  const config = loadConfig();
  const stateFile = join(config.dataDir, 'stack.json');
  if (args.positional[0] === 'up') {
    const recorded = recordedStack(readStackFile(stateFile));
    if (recorded && recorded.stopped.length === 0) {
      console.log('the stack is already up (stop it with: npm run ferops -- stack down)');
      printAddresses({ ...recorded.addresses, dataDir: config.dataDir });
      return 0;
    }
    if (recorded && recorded.running.length > 0) {
      throw new Error(`the stack is partly up (${recorded.stopped.join(', ')} not running): run \`npm run ferops -- stack down\`, then \`stack up\``);
    }
    const stack = await startConfiguredStack(config);
    console.log('stack is up (processes keep running; stop them with: npm run ferops -- stack down)');
    printAddresses(stack);
    process.exit(0);
  }
  if (args.positional[0] === 'down') {
    const file = readStackFile(stateFile);
    if (!file) {
      console.log('no stack state found: nothing to stop');
      return 0;
    }
    const { pids, startIds = {} } = file;
    for (const name of ['worker', 'loadBalancer', 'inference', 'mlflow', 'temporal'] as const) {
      for (const pid of [pids[name] ?? []].flat()) {
        if (isSameProcess(pid, startIds[pid])) await stopGroup(name, pid);
        else if (isAlive(pid)) console.log(`left pid ${pid} alone: it is no longer the ${name} that stack up started`);
      }
    }
    rmSync(stateFile);
    return 0;
  }
  throw new UsageError(args.positional[0] ? `unknown action "${args.positional[0]}"` : 'needs up or down');
}

/** What `stack up` wrote to stack.json (infra/stack.ts): each process group's leader, and the addresses. */
interface StackFile {
  pids: Partial<Record<'temporal' | 'mlflow' | 'worker' | 'loadBalancer', number> & { inference: number[] }>;
  /** Each pid's start id (lib/process-identity.ts); absent in files written before it. */
  startIds?: Record<number, string | undefined>;
  temporalUiUrl?: string;
  mlflowUrl: string;
  inferenceUrl: string;
}

const readStackFile = (stateFile: string): StackFile | undefined =>
  existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as StackFile) : undefined;

/** Which of a recorded stack's processes still run, and its addresses; undefined if none was recorded. */
function recordedStack(file: StackFile | undefined) {
  if (!file) return undefined;
  const groups = Object.entries(file.pids).map(([name, pids]) => ({ name, up: [pids].flat().every((pid) => pid !== undefined && isSameProcess(pid, file.startIds?.[pid])) }));
  return {
    running: groups.filter((g) => g.up).map((g) => g.name),
    stopped: groups.filter((g) => !g.up).map((g) => g.name),
    addresses: { temporalUiUrl: file.temporalUiUrl, mlflowUrl: file.mlflowUrl, inferenceUrl: file.inferenceUrl },
  };
}

async function stopGroup(name: string, pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(-pid, 'SIGTERM');
  for (let i = 0; i < 60 && isAlive(pid); i++) await sleep(250);
  if (isAlive(pid)) process.kill(-pid, 'SIGKILL');
  console.log(`stopped ${name} (pid ${pid})`);
}
