import assert from 'node:assert/strict';
import { join, sep } from 'node:path';
import { describe, it } from 'node:test';
import { safeName } from '../../activities/train';

describe('safeName (run directory of a workflow id)', () => {
  it('when ids are the ones the pipeline makes, then their names are unchanged', () => {
    assert.equal(safeName('train-ferops-fer-1fb956ee0a74'), 'train-ferops-fer-1fb956ee0a74');
    assert.equal(safeName('x/rollout'), 'x_rollout');
    assert.equal(safeName('drift:ferops-fer/retrain.2'), 'drift_ferops-fer_retrain.2');
    assert.equal(safeName('a..b'), 'a..b');
  });

  it('when an id is "..", "." or empty, then the name stays inside the runs directory', () => {
    for (const id of ['..', '.', '', '...', '../..', '/..', '..\\..']) {
      const name = safeName(id);
      assert.ok(name !== '' && name !== '.' && name !== '..', `${JSON.stringify(id)} -> ${JSON.stringify(name)}`);
      assert.ok(!name.includes('/') && !name.includes('\\') && !name.includes(sep), name);
      assert.equal(join('/runs', name, 'train').startsWith(`/runs/${name}/`), true, name);
    }
    assert.equal(safeName('..'), '__');
  });
});
