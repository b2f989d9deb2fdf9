import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseArgs } from '../../services/cli/args';
import { TRAIN_ARGS, trainOverrides } from '../../services/cli/commands/train';
import { modelForWorker, pathForWorker, userCwd, userPath } from '../../services/cli/user-path';

// Paths typed on the command line are the user's: `npm run ferops` runs in the repository root (npm keeps the
// user's directory in INIT_CWD), and the worker and trainer that read a dataset or a model run elsewhere again.
describe('paths on the ferops command line', () => {
  const home = mkdtempSync(join(tmpdir(), 'ferops-user-path-'));
  mkdirSync(join(home, 'my-vit'));
  const npmRun = { npm_lifecycle_event: 'ferops', INIT_CWD: home };
  after(() => rmSync(home, { recursive: true, force: true }));

  it('when run as `npm run ferops` from another directory, then relative paths name files in that directory', () => {
    assert.equal(userCwd(npmRun), home);
    assert.equal(userPath('photo.jpg', npmRun), join(home, 'photo.jpg'));
    assert.equal(userPath('/abs/photo.jpg', npmRun), '/abs/photo.jpg');
  });
  it('when started under another npm script (npm test), then INIT_CWD is that script\'s and the process directory counts', () => {
    assert.equal(userCwd({ npm_lifecycle_event: 'test', INIT_CWD: home }), process.cwd());
    assert.equal(userCwd({}), process.cwd());
  });
  it('when a dataset path is relative, then the worker is given it absolute; file:// URIs and absolute paths stay as typed', () => {
    assert.equal(pathForWorker('data/fer2013.csv', npmRun), join(home, 'data/fer2013.csv'));
    assert.equal(pathForWorker('file:///d/fer2013.csv', npmRun), 'file:///d/fer2013.csv');
    assert.equal(pathForWorker('/d/faces', npmRun), '/d/faces');
  });
  it('when --model names a directory there, then it is made absolute; a preset or a hub id that is no directory stays as typed', () => {
    assert.equal(modelForWorker('my-vit', ['tiny'], npmRun), join(home, 'my-vit'));
    assert.equal(modelForWorker('google/vit-base-patch16-224-in21k', ['tiny'], npmRun), 'google/vit-base-patch16-224-in21k');
    mkdirSync(join(home, 'tiny'));
    assert.equal(modelForWorker('tiny', ['tiny'], npmRun), 'tiny');
  });
  it('when ferops train gets a relative dataset or model directory, then the pipeline input holds absolute paths', () => {
    const saved = { ...process.env };
    Object.assign(process.env, npmRun);
    try {
      const o = trainOverrides(parseArgs(['--dataset', 'fer2013.csv', '--model', 'my-vit'], TRAIN_ARGS).flags);
      assert.deepEqual(o.dataset, { kind: 'fer2013-csv', path: join(home, 'fer2013.csv') });
      assert.deepEqual(o.trainer, { model: { base: join(home, 'my-vit') } });
      assert.deepEqual(trainOverrides(parseArgs(['--dataset', 'faces'], TRAIN_ARGS).flags).dataset, { kind: 'image-folder', path: join(home, 'faces') });
    } finally {
      process.env = saved;
    }
  });
});
