import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../lib/paths';
import { parseArgs, UsageError } from '../../services/cli/args';
import { DEPLOY_ARGS, deployRolloutOverrides, immediateFrom } from '../../services/cli/commands/deploy';
import { PREDICT_ARGS } from '../../services/cli/commands/predict';
import { ROLLOUT_ARGS } from '../../services/cli/commands/rollout';
import { TRAIN_ARGS } from '../../services/cli/commands/train';

describe('ferops command-line arguments', () => {
  it('when a flag is misspelt, then it is refused by name instead of training with the default', () => {
    assert.throws(() => parseArgs(['--epoch', '5'], TRAIN_ARGS), (e: unknown) => e instanceof UsageError && e.message === 'unknown option --epoch');
  });

  it('when a switch is followed by a positional, then the switch takes no value and the positional stays one', () => {
    assert.deepEqual(parseArgs(['--json', 'photo.jpg', '--no-detect'], PREDICT_ARGS), { positional: ['photo.jpg'], flags: { json: true, 'no-detect': true } });
    assert.throws(() => parseArgs(['--no-wait=yes'], TRAIN_ARGS), /--no-wait takes no value/);
  });

  it('when a value flag has no value, or too many positionals are given, then it says so', () => {
    assert.throws(() => parseArgs(['--epochs'], TRAIN_ARGS), /--epochs needs a value/);
    assert.throws(() => parseArgs(['--id', '--no-wait'], TRAIN_ARGS), /--id needs a value/);
    assert.throws(() => parseArgs(['abort', 'p1', 'p2'], ROLLOUT_ARGS), /unexpected argument "p2"/);
  });

  it('when deploy is given rollout options, then they become the rollout\'s overrides; a bad list or JSON is refused', () => {
    const argv = ['previous', '--steps', '10, 100', '--shadow-seconds', '0', '--window-seconds', '30', '--approval', '--thresholds', '{"minShadowKappa": -1}'];
    assert.deepEqual(deployRolloutOverrides(parseArgs(argv, DEPLOY_ARGS).flags), {
      steps: [10, 100], shadowSeconds: 0, windowSeconds: 30, approval: 'required', thresholds: { minShadowKappa: -1 },
    });
    assert.deepEqual(deployRolloutOverrides({}), {});
    assert.throws(() => deployRolloutOverrides({ steps: '5,x' }), /--steps needs percentages/);
    for (const bad of ['{min', '5', '[1]', 'null']) assert.throws(() => deployRolloutOverrides({ thresholds: bad }), /--thresholds needs a JSON object/);
  });

  it('when deploy --now is asked, then it needs a reason, takes no rollout options, and --reason alone is refused', () => {
    const flags = (...argv: string[]) => parseArgs(['3', ...argv], DEPLOY_ARGS).flags;
    assert.deepEqual(immediateFrom(flags('--now', '--reason', 'incident 42', '--by', 'alice'), false), { by: 'alice', reason: 'incident 42' });
    assert.equal(immediateFrom(flags(), false), undefined);
    assert.throws(() => immediateFrom(flags('--now'), false), /--now needs --reason TEXT/);
    assert.throws(() => immediateFrom(flags('--now', '--reason', ' '), false), /--now needs --reason TEXT/);
    assert.throws(() => immediateFrom(flags('--now', '--reason', 'x'), true), /--now deploys without canary: it takes no rollout options/);
    assert.throws(() => immediateFrom(flags('--reason', 'x'), false), /--reason and --by go with --now/);
  });

  it('when a value holds "=" or starts with "-", then it is kept whole', () => {
    assert.equal(parseArgs(['x.jpg', '--url=http://h:8080/?a=b'], PREDICT_ARGS).flags.url, 'http://h:8080/?a=b');
    assert.equal(parseArgs(['--seed', '-3'], TRAIN_ARGS).flags.seed, '-3');
    assert.equal(parseArgs(['abort', 'p1', '--reason', 'latency up', '-h'], ROLLOUT_ARGS).flags.help, true);
  });
});

describe('ferops CLI', () => {
  const ferops = (...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services/cli/main.ts'), ...args], { cwd: REPO_ROOT, env: { ...process.env, FEROPS_TEMPORAL_ADDRESS: '127.0.0.1:1' } });

  it('when `train --help` is run, then it prints the options and exits 0, starting nothing', async () => {
    const { stdout } = await ferops('train', '--help');
    assert.match(stdout, /^usage: ferops train \[--dataset/);
    assert.match(stdout, /--no-wait/);
  });

  it('when `train` is given an unknown option, then it exits 2 naming it, before connecting to anything', async () => {
    await assert.rejects(ferops('train', '--epoch', '5'), (e: { code?: number; stderr?: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr!, /^ferops train: unknown option --epoch\nusage: ferops train \[/);
      return true;
    });
  });

  it('when `deploy` is given something that is not a version, then it exits 2 saying what it takes, before connecting to anything', async () => {
    await assert.rejects(ferops('deploy', 'latest'), (e: { code?: number; stderr?: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr!, /^ferops deploy: "latest" is not a version: give a number, previous, or @<alias>\nusage: ferops deploy </);
      return true;
    });
  });

  it('when `status` gets a bad --limit, or --limit with a workflow id, then it exits 2 saying why, before connecting to anything', async () => {
    for (const [args, why] of [
      [['status', '--limit', '0'], '--limit needs a whole number from 1 to 1000'],
      [['status', 'train-x', '--limit', '5'], '--limit and --json list the latest workflows: give no workflow id'],
    ] as const) {
      await assert.rejects(ferops(...args), (e: { code?: number; stderr?: string }) => {
        assert.equal(e.code, 2);
        assert.equal(e.stderr!.split('\n')[0], `ferops status: ${why}`);
        return true;
      });
    }
  });
});
