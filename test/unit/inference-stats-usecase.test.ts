import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServiceContext } from '../../services/inference/context';
import { StatsRing } from '../../services/inference/runtime/stats-ring';
import { drift, driftQuery } from '../../services/inference/usecases/drift';
import { replicaIdentity } from '../../services/inference/usecases/replica';
import { stats, statsQuery } from '../../services/inference/usecases/stats';

/** A replica that served canary c1 under generation 3 and serves c2 under generation 4 now. */
function replica(): ServiceContext {
  const ring = new StatsRing(100, () => 1_000_000);
  const req = (version: string, generation: number) => ({ slot: 'canary', version, generation, ok: true, latencyMs: 5, classes: [3], confidenceSum: 0.9 });
  ring.record(req('c1', 3));
  ring.record(req('c1', 3));
  ring.record(req('c2', 4));
  ring.recordShadow({ stable: [3], canary: [3] }, 3);
  const occupants: Record<string, string> = { stable: 's1', canary: 'c2' };
  const slots = { generation: 4, get: (slot: string) => ({ info: { version: occupants[slot] } }) };
  return { stats: ring, slots, config: {} } as unknown as ServiceContext;
}

describe('stats and drift use cases', () => {
  it('when no generation is asked for, then the window counts the generation served now, with its occupants', () => {
    const out = stats(replica(), statsQuery.parse({}));
    assert.equal(out.generation, 4);
    assert.equal(out.windowSeconds, 60);
    assert.deepEqual([out.slots.canary.version, out.slots.canary.requests], ['c2', 1]);
    assert.deepEqual([out.slots.stable.version, out.slots.stable.requests], ['s1', 0]);
    assert.equal(out.shadow.compared, 0);
  });

  it('when an earlier generation is asked for, then its window counts the versions served then', () => {
    const out = stats(replica(), statsQuery.parse({ windowSeconds: '60', generation: '3' }));
    assert.equal(out.generation, 3);
    assert.deepEqual([out.slots.canary.version, out.slots.canary.requests], ['c1', 2]);
    assert.deepEqual([out.slots.stable.version, out.slots.stable.requests], [null, 0], 'no stable records under 3');
    assert.equal(out.shadow.compared, 1);
    const d = drift(replica(), driftQuery.parse({ generation: '3' }));
    assert.deepEqual([d.generation, d.slots.canary.version, d.slots.canary.faces], [3, 'c1', 2]);
  });

  it('when generation is not a non-negative integer, then the query is refused', () => {
    for (const generation of ['', '-1', '1.5', 'x']) assert.throws(() => statsQuery.parse({ generation }), /must be a non-negative integer/);
    assert.throws(() => driftQuery.parse({ generation: '' }));
  });

  it('when several services run in one process, then each answers as its own replica, the same every time', () => {
    const [a, b] = [replica(), replica()];
    assert.notEqual(replicaIdentity(a).id, replicaIdentity(b).id);
    assert.equal(replicaIdentity(a), replicaIdentity(a));
    assert.equal(stats(a, statsQuery.parse({})).replica, replicaIdentity(a));
  });
});
