import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changeDesiredState, DESIRED_STATE_TAG, readDesiredState, type DesiredStateStore } from '../../lib/inference-admin/desired-state';
import { discovery } from '../../lib/inference-admin/discovery';

/** An in-memory registry: one model's tags and its champion alias. */
function fakeStore(o: { exists?: boolean; champion?: string } = {}) {
  const tags = new Map<string, string>();
  let writes = 0;
  const store: DesiredStateStore = {
    getRegisteredModel: async () => (o.exists === false ? null : { tags: [...tags].map(([key, value]) => ({ key, value })) }),
    getModelVersionByAlias: async () => (o.champion ? { version: o.champion } : null),
    setRegisteredModelTag: async (_name, key, value) => void (writes++, tags.set(key, value)),
  };
  return { store, tags, writes: () => writes };
}

describe('desired state in the registry', () => {
  it('when no desired state was written, then it is generation 0 serving the champion, or nothing without one', async () => {
    const withChampion = await readDesiredState(fakeStore({ champion: '4' }).store, 'm');
    assert.deepEqual([withChampion.generation, withChampion.stable, withChampion.canary], [0, { version: '4', source: 'models:/m/4' }, null]);
    const fresh = await readDesiredState(fakeStore({ exists: false }).store, 'm');
    assert.deepEqual([fresh.generation, fresh.stable], [0, null]);
  });

  it('when a change is made, then it is the next generation, and the same change again writes nothing', async () => {
    const f = fakeStore({ champion: '4' });
    const a = await changeDesiredState(f.store, 'm', { canary: { version: '5', source: 'models:/m/5' } }, 'load 5');
    assert.equal(a.generation, 1);
    assert.equal(a.stable?.version, '4', 'unchanged fields are kept');
    const b = await changeDesiredState(f.store, 'm', { canaryWeight: 25 }, 'weight 25');
    assert.equal(b.generation, 2);
    const again = await changeDesiredState(f.store, 'm', { canaryWeight: 25 }, 'weight 25, retried');
    assert.equal(again.generation, 2, 'a retried activity does not start another generation');
    assert.equal(f.writes(), 2);
    assert.deepEqual(await readDesiredState(f.store, 'm'), b);
  });

  it('when the tag holds something else, then reading it fails and names the tag', async () => {
    const f = fakeStore();
    f.tags.set(DESIRED_STATE_TAG, JSON.stringify({ generation: -1 }));
    await assert.rejects(readDesiredState(f.store, 'm'), /ferops\.deployment of m is not a desired state: generation/);
    f.tags.set(DESIRED_STATE_TAG, 'not json');
    await assert.rejects(readDesiredState(f.store, 'm'), /is not a desired state/);
  });
});

describe('replica discovery', () => {
  it('when given a list, then those URLs; when a name, then every address it resolves to', async () => {
    assert.deepEqual(await discovery('http://a:1, http://b:2/')(), ['http://a:1', 'http://b:2/']);
    assert.ok((await discovery('dns:localhost:8081')()).includes('http://127.0.0.1:8081'));
  });

  it('when the spec is malformed, then a clear error names the setting', () => {
    assert.throws(() => discovery(''), /FEROPS_INFERENCE_DISCOVERY is empty/);
    assert.throws(() => discovery('dns:nohostport'), /dns:<host>:<port>/);
    assert.throws(() => discovery('ftp://x'), /is not a replica base URL/);
  });
});
