import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startStack } from '../../infra/stack';
import { isAlive as alive } from '../../services/cli/commands/stack';
import { freePort } from '../../infra/processes/managed-process';

// `ferops stack up|down` as a user runs them (the CLI in a child process), on free ports and a temp data dir, with
// two inference replicas so that HAProxy runs too.
const run = promisify(execFile);
const root = resolve(__dirname, '..', '..');
const dataDir = mkdtempSync(join(tmpdir(), 'ferops-cli-stack-'));
let env: NodeJS.ProcessEnv;

const ferops = async (...args: string[]) => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'services/cli/main.ts', ...args], { cwd: root, env, timeout: 300_000 });
  return stdout;
};
const recordedPids = (): number[] => Object.values(JSON.parse(readFileSync(join(dataDir, 'stack.json'), 'utf8')).pids as Record<string, number | number[]>).flat();

after(async () => {
  await ferops('stack', 'down').catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('ferops stack up|down', { timeout: 600_000 }, () => {
  it('when the stack is started twice, then the second start starts nothing, a start beside it is refused, and down stops every process', async () => {
    const [temporal, ui, mlflow, inference] = [await freePort(), await freePort(), await freePort(), await freePort()];
    env = {
      ...process.env, FEROPS_DATA_DIR: dataDir, FEROPS_INFERENCE_REPLICAS: '2', FEROPS_TEMPORAL_ADDRESS: `127.0.0.1:${temporal}`,
      FEROPS_TEMPORAL_UI_PORT: String(ui), FEROPS_MLFLOW_URL: `http://127.0.0.1:${mlflow}`, FEROPS_INFERENCE_URL: `http://127.0.0.1:${inference}`,
    };
    await ferops('stack', 'up');
    const pids = recordedPids();
    assert.equal(pids.length, 6, 'temporal, mlflow, worker, two replicas and the load balancer');
    assert.ok(pids.every(alive));

    // Before, the second start "succeeded": the old servers answered the new ones' readiness checks, stack.json
    // was overwritten, and `stack down` then left the first stack running.
    assert.match(await ferops('stack', 'up'), /^the stack is already up/);
    assert.deepEqual(recordedPids(), pids);
    // A start that does not know of the running stack (`demo`, say) is refused before it starts anything.
    await assert.rejects(
      startStack({ dataDir: mkdtempSync(join(tmpdir(), 'ferops-cli-stack-beside-')), ports: { temporal, temporalUi: ui, mlflow, inference }, ui: true, modelName: 'ferops-fer' }),
      new RegExp(`^Error: ports already in use: ${temporal} \\(Temporal, FEROPS_TEMPORAL_ADDRESS\\), ${ui} .*${mlflow} .*${inference} \\(inference, FEROPS_INFERENCE_URL\\)`),
    );

    // Before, the replicas (two pids in one entry) and the load balancer (not recorded) outlived `stack down`.
    await ferops('stack', 'down');
    assert.deepEqual(pids.filter(alive), []);
  });
});
