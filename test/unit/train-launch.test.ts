import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { trainerCommand, trainerExitCode, trainerNproc } from '../../activities/train/launch';
import { EXIT_CODE_OF_ERROR, EXIT_INTERRUPTED } from '../../activities/train/trainer-events';
import { TRAINER_DIR } from '../../lib/paths';

const base = { python: '/venv/bin/python', configPath: '/runs/w1/train/trainer-config.json' };

describe('trainer launch command', () => {
  it('when nproc is 1, then the trainer module runs directly, resuming when asked', () => {
    assert.deepEqual(trainerCommand({ ...base, nproc: 1, resumeFrom: '/runs/w1/train/checkpoints/last.pt' }), {
      command: '/venv/bin/python',
      args: ['-m', 'ferops_trainer', '--config', base.configPath, '--resume', '/runs/w1/train/checkpoints/last.pt'],
    });
  });

  it('when nproc is above 1, then the same module runs under torchrun with that many standalone processes', () => {
    assert.deepEqual(trainerCommand({ ...base, nproc: 4 }), {
      command: '/venv/bin/python',
      args: ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=4', '-m', 'ferops_trainer', '--config', base.configPath],
    });
  });

  it('when nproc is not a positive integer, then building the command fails with the value named', () => {
    for (const nproc of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => trainerCommand({ ...base, nproc }), /nproc must be a positive integer/);
    }
  });
});

describe('process count', () => {
  it("when the worker sets FEROPS_TRAIN_NPROC, then it overrides the trainer config's nproc", () => {
    assert.equal(trainerNproc(2, { nproc: 8 }), 2);
  });

  it("when the worker sets none, then the trainer config's nproc decides, else 1", () => {
    assert.equal(trainerNproc(undefined, { nproc: 3 }), 3);
    assert.equal(trainerNproc(undefined, {}), 1);
  });

  it('when the config holds an invalid nproc, then one process starts (and the trainer rejects the config)', () => {
    for (const nproc of ['2', 0, 2.5, null]) assert.equal(trainerNproc(undefined, { nproc }), 1);
  });
});

describe('exit status under torchrun', () => {
  it("when torchrun exits 1, then the trainer's error code or interruption gives the status the contract names", () => {
    assert.equal(trainerExitCode(2, 1, { error: { code: 'bad_config' }, interrupted: false }), 2);
    assert.equal(trainerExitCode(2, 1, { error: { code: 'bad_dataset' }, interrupted: false }), 2);
    assert.equal(trainerExitCode(2, 1, { error: { code: 'parity_failed' }, interrupted: false }), 3);
    assert.equal(trainerExitCode(2, 1, { error: { code: 'internal' }, interrupted: false }), 1);
    assert.equal(trainerExitCode(2, 1, { interrupted: true }), EXIT_INTERRUPTED);
  });

  it("when an error code maps to a status here, then it is the one the trainer's errors.py exits with", () => {
    const errors = readFileSync(join(TRAINER_DIR, 'ferops_trainer', 'errors.py'), 'utf8');
    const pythonTable = /^EXIT_CODES = (\{.*\})$/m.exec(errors);
    assert.ok(pythonTable, 'errors.py defines EXIT_CODES on one line');
    assert.deepEqual(EXIT_CODE_OF_ERROR, JSON.parse(pythonTable[1]));
  });

  it('when there is no event to go by, success, a signal or a single process, then the status is kept', () => {
    assert.equal(trainerExitCode(2, 1, { interrupted: false }), 1);
    assert.equal(trainerExitCode(2, 0, { interrupted: false }), 0);
    assert.equal(trainerExitCode(2, null, { interrupted: true }), null);
    assert.equal(trainerExitCode(1, 1, { error: { code: 'bad_config' }, interrupted: false }), 1);
  });
});
