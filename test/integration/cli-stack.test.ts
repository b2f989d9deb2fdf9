import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { startStack } from '../../infra/stack';
import { freePort } from '../../infra/processes/managed-process';
import { isAlive as alive, processStartId } from '../../lib/process-identity';
import { DRIFT_SCHEDULE_ID, HOUSEKEEPING_SCHEDULE_ID } from '../../lib/temporal-constants';

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
      FEROPS_HOUSEKEEPING_INTERVAL: '7m',
    };
    await ferops('stack', 'up');
    const pids = recordedPids();
    assert.equal(pids.length, 6, 'temporal, mlflow, worker, two replicas and the load balancer');
    assert.ok(pids.every(alive));
    // The worker makes the schedules as it starts, from its environment (so Compose and Kubernetes get them too).
    const connection = await Connection.connect({ address: env.FEROPS_TEMPORAL_ADDRESS });
    try {
      const schedules = new Client({ connection }).schedule;
      assert.equal((await schedules.getHandle(DRIFT_SCHEDULE_ID).describe()).spec.intervals?.[0]?.every, 600_000);
      assert.equal((await schedules.getHandle(HOUSEKEEPING_SCHEDULE_ID).describe()).spec.intervals?.[0]?.every, 420_000);
    } finally {
      await connection.close();
    }

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

  it('when stack.json names pids that other processes have since been given (a reboot, pids wrapping), then down signals none of them and up starts afresh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferops-cli-stack-stale-'));
    // Strangers in process groups of their own, as the stack's leaders were: `down` signals whole groups.
    const strangers = [0, 1, 2].map(() => spawn('sleep', ['600'], { detached: true, stdio: 'ignore' }));
    const pids = strangers.map((p) => p.pid!);
    const blocker = createServer();
    try {
      const stale = (pid: number) => processStartId(pid)!.replace(/^[^:]+/, 'an-earlier-boot');
      const file = { pids: { temporal: pids[0], mlflow: pids[1], inference: [pids[2]] }, startIds: Object.fromEntries(pids.map((pid) => [pid, stale(pid)])), mlflowUrl: 'http://127.0.0.1:1', inferenceUrl: 'http://127.0.0.1:2' };
      const staleEnv: NodeJS.ProcessEnv = { ...process.env, FEROPS_DATA_DIR: dir };
      const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'services/cli/main.ts', ...args], { cwd: root, env: staleEnv, timeout: 120_000 });

      writeFileSync(join(dir, 'stack.json'), JSON.stringify(file));
      const down = await cli('stack', 'down');
      assert.deepEqual(pids.filter(alive), pids, 'every stranger still runs');
      assert.match(down.stdout, new RegExp(`left pid ${pids[0]} alone: it is no longer the temporal that stack up started`));

      // Before, `up` took live strangers for a running stack ("already up", or "partly up: run stack down").
      // Now it starts afresh; a port held here stops that start at its first check, before anything runs.
      writeFileSync(join(dir, 'stack.json'), JSON.stringify(file));
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const taken = (blocker.address() as { port: number }).port;
      staleEnv.FEROPS_TEMPORAL_ADDRESS = `127.0.0.1:${taken}`;
      await assert.rejects(cli('stack', 'up'), (e: Error & { stderr: string }) => {
        assert.match(e.stderr, new RegExp(`port already in use: ${taken} \\(Temporal, FEROPS_TEMPORAL_ADDRESS\\)\\. .*set that variable to a free port`));
        assert.doesNotMatch(e.stderr, /partly up/);
        return true;
      });
    } finally {
      blocker.close();
      for (const p of strangers) p.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
