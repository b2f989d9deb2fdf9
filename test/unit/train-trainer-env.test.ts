import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runTrainer } from '../../activities/train/run-trainer';

const dir = mkdtempSync(join(tmpdir(), 'trainer-env-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in for the Python trainer: prints the environment it was given as one JSON event line. */
function fakePython(): string {
  const script = join(dir, 'python');
  writeFileSync(script, `#!/bin/sh\nexec '${process.execPath}' -e 'console.log(JSON.stringify({ event: "env", env: process.env }))'\n`);
  chmodSync(script, 0o755);
  return script;
}

describe('trainer environment', () => {
  it("when the worker holds secrets, then the trainer gets PATH and its own settings but none of the worker's secrets", async () => {
    const planted = {
      FEROPS_ADMIN_TOKEN: 'planted-secret-1',
      KAGGLE_USERNAME: 'ada',
      KAGGLE_KEY: 'planted-secret-2',
      AWS_SECRET_ACCESS_KEY: 'planted-secret-3',
      FEROPS_MLFLOW_URL: 'http://127.0.0.1:5000',
      CUDA_VISIBLE_DEVICES: '0',
      OMP_NUM_THREADS: '2',
      HF_HUB_OFFLINE: '1',
      FEROPS_SEED: '5',
    };
    const saved = Object.fromEntries(Object.keys(planted).map((k) => [k, process.env[k]]));
    Object.assign(process.env, planted);
    let env: Record<string, string> | undefined;
    try {
      const run = await runTrainer({
        python: fakePython(), cwd: dir, configPath: join(dir, 'config.json'), logDir: join(dir, 'log'),
        onEvent: (e) => {
          const line = e as unknown as { event: string; env?: Record<string, string> };
          if (line.event === 'env') env = line.env;
        },
      });
      assert.equal(run.exitCode, 0, run.stderrTail);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    assert.ok(env, 'the fake trainer reported its environment');
    for (const secret of ['FEROPS_ADMIN_TOKEN', 'KAGGLE_USERNAME', 'KAGGLE_KEY', 'AWS_SECRET_ACCESS_KEY', 'FEROPS_MLFLOW_URL']) {
      assert.equal(env[secret], undefined, `${secret} reached the trainer`);
    }
    assert.ok(!Object.values(env).some((v) => /planted-secret/.test(v)), 'no planted secret value reached the trainer');
    assert.equal(env.PATH, process.env.PATH);
    assert.equal(env.PYTHONUNBUFFERED, '1');
    assert.deepEqual([env.CUDA_VISIBLE_DEVICES, env.OMP_NUM_THREADS, env.HF_HUB_OFFLINE, env.FEROPS_SEED], ['0', '2', '1', '5']);
  });
});
