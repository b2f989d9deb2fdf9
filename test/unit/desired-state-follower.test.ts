import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changeDesiredState, type DesiredStateStore } from '../../lib/inference-admin/desired-state';
import type { SlotModel } from '../../lib/inference-admin/wire';
import { AppError } from '../../services/inference/errors';
import { DesiredStateFollower } from '../../services/inference/runtime/desired-state-follower';
import type { LoadedModel } from '../../services/inference/runtime/model';
import { Slots } from '../../services/inference/runtime/slots';

/** A model as the follower and Slots use it: version, source, and whether it was retired. */
function fakeModel(m: SlotModel) {
  const model = { info: { ...m }, retired: false, retire() { model.retired = true; }, whenReleased: Promise.resolve(), acquire() { return model; } };
  return model;
}

function setup(o: { refuse?: string; unfetchable?: string } = {}) {
  const tags = new Map<string, string>();
  let registryDown = false;
  const store: DesiredStateStore = {
    getRegisteredModel: async () => {
      if (registryDown) throw new Error('ECONNREFUSED');
      return { tags: [...tags].map(([key, value]) => ({ key, value })) };
    },
    getModelVersionByAlias: async () => null,
    setRegisteredModelTag: async (_n, key, value) => void tags.set(key, value),
  };
  const slots = new Slots();
  const loads: string[] = [];
  const models: ReturnType<typeof fakeModel>[] = [];
  const follower = new DesiredStateFollower({
    slots, store, modelName: 'm', pollMs: 10,
    prepare: async (m) => {
      loads.push(m.version);
      if (m.version === o.refuse) throw new AppError(422, 'invalid_model', `model ${m.version} refused: bad labels`);
      if (m.version === o.unfetchable) throw new AppError(502, 'registry_unavailable', `models:/m/${m.version}: registry request failed`);
      const model = fakeModel(m);
      models.push(model);
      return model as unknown as LoadedModel;
    },
    lock: (fn) => fn(),
    log: () => undefined,
  });
  const want = (change: Parameters<typeof changeDesiredState>[2]) => changeDesiredState(store, 'm', change, 'test');
  const v = (version: string) => ({ version, source: `models:/m/${version}` });
  return { slots, follower, loads, models, want, v, setRegistryDown: (down: boolean) => void (registryDown = down) };
}

describe('a replica following the desired state', () => {
  it('when a generation is written, then the replica serves exactly it, loading each model once and moving the canary to stable on promotion', async () => {
    const { slots, follower, loads, models, want, v } = setup();
    assert.equal(follower.status().generation, null, 'nothing applied yet: not ready');
    await want({ stable: v('1') });
    await follower.syncOnce();
    assert.equal(slots.get('stable')?.info.version, '1');
    await want({ canary: v('2'), canaryWeight: 25 });
    await follower.syncOnce();
    assert.deepEqual([slots.get('canary')?.info.version, slots.canaryWeight, slots.generation], ['2', 25, 2]);
    await want({ stable: v('2'), canary: null, canaryWeight: 0 });
    await follower.syncOnce();
    assert.deepEqual([slots.get('stable')?.info.version, slots.get('canary'), slots.canaryWeight], ['2', undefined, 0]);
    assert.deepEqual(loads, ['1', '2'], 'the promoted canary was reused, not loaded again');
    assert.deepEqual(models.map((m) => m.retired), [true, false], 'the old stable was retired, the promoted one kept');
    assert.equal(follower.status().generation, 3);
  });

  it('when a model is refused, then the replica keeps serving its state, reports the error for that generation, and frees what it loaded for it', async () => {
    const { slots, follower, models, want, v } = setup({ refuse: '3' });
    await want({ stable: v('1') });
    await follower.syncOnce();
    await want({ stable: v('2'), canary: v('3') });
    await follower.syncOnce();
    assert.equal(slots.get('stable')?.info.version, '1', 'still serving generation 1');
    assert.deepEqual([follower.status().generation, follower.status().error?.generation], [1, 2]);
    assert.match(follower.status().error!.message, /model 3 refused: bad labels/);
    assert.equal(follower.status().error!.retryable, false, 'a refused model stays refused');
    assert.equal(models.find((m) => m.info.version === '2')?.retired, true, 'the model loaded for the refused state was freed');
  });

  it('when a model cannot be fetched, then the error says it may heal and every poll tries again; a refused one is tried only now and then', async () => {
    const unfetchable = setup({ unfetchable: '2' });
    await unfetchable.want({ stable: unfetchable.v('1') });
    await unfetchable.follower.syncOnce();
    await unfetchable.want({ canary: unfetchable.v('2') });
    for (let i = 0; i < 3; i++) await unfetchable.follower.syncOnce();
    assert.deepEqual([unfetchable.follower.status().error?.generation, unfetchable.follower.status().error?.retryable], [2, true]);
    assert.deepEqual(unfetchable.loads, ['1', '2', '2', '2'], 'tried at every poll');

    const refused = setup({ refuse: '2' });
    await refused.want({ stable: refused.v('1') });
    await refused.follower.syncOnce();
    await refused.want({ canary: refused.v('2') });
    for (let i = 0; i < 3; i++) await refused.follower.syncOnce();
    assert.deepEqual(refused.loads, ['1', '2'], 'not again at the next polls');
  });

  it('when the registry is down, then the replica keeps its state and says why; when it returns, it catches up', async () => {
    const { slots, follower, want, v, setRegistryDown } = setup();
    await want({ stable: v('1') });
    await follower.syncOnce();
    await want({ canary: v('2'), canaryWeight: 50 });
    setRegistryDown(true);
    await follower.syncOnce();
    assert.deepEqual([slots.generation, follower.status().error?.generation], [1, null]);
    assert.match(follower.status().error!.message, /reading the desired state: ECONNREFUSED/);
    assert.equal(follower.status().error!.retryable, true);
    setRegistryDown(false);
    await follower.syncOnce();
    assert.deepEqual([slots.generation, slots.canaryWeight, follower.status().error], [2, 50, null]);
  });

  it('when polling, then it applies changes by itself until stopped', async () => {
    const { slots, follower, want, v } = setup();
    follower.start();
    await want({ stable: v('1') });
    for (let i = 0; i < 100 && slots.generation !== 1; i++) await new Promise((r) => setTimeout(r, 10));
    await follower.stop();
    assert.equal(slots.generation, 1);
  });
});
