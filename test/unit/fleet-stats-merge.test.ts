import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../activities/ingest/synthetic/prng';
import { type DriftOutput, driftBinning, mergeDrift } from '../../lib/inference-admin/drift';
import { mergeStats, type StatsOutput } from '../../lib/inference-admin/stats';
import { SLOT_NAMES } from '../../lib/inference-admin/wire';
import { RELATIVE_ACCURACY } from '../../lib/latency-sketch';
import { type RequestRecord, StatsRing } from '../../services/inference/runtime/stats-ring';

const WINDOW = 60;
const GENERATION = 12;
const VERSIONS = { stable: 's3', canary: 'c4' } as const;

type Request = Omit<RequestRecord, 't'>;
type Shadow = { classes: { stable: number[]; canary: number[] } | 'failed'; generation: number | null };

/**
 * One replica's traffic, each replica with its own latency level (the fleet's percentiles are not any replica's),
 * plus requests of the previous generation that a query for GENERATION must leave out.
 */
function traffic(seed: number, n: number, slowdown: number): { requests: Request[]; shadows: Shadow[] } {
  const rng = new Rng(seed);
  const requests: Request[] = [];
  const shadows: Shadow[] = [];
  for (let k = 0; k < n; k++) {
    const slot = rng.chance(0.2) ? 'canary' : 'stable';
    const generation = rng.chance(0.1) ? GENERATION - 1 : GENERATION;
    const ok = !rng.chance(0.05);
    const faces = ok ? rng.int(3) : 0;
    const classes = Array.from({ length: faces }, () => rng.int(7));
    requests.push({
      slot,
      version: VERSIONS[slot],
      generation,
      ok,
      latencyMs: slowdown * Math.exp(3 + 0.5 * rng.normal()),
      classes,
      confidenceSum: classes.reduce((s) => s + rng.uniform(0.3, 1), 0),
      crops: classes.map(() => ({ brightness: rng.next(), contrast: rng.uniform(0, 0.5) })),
    });
    if (slot === 'stable' && faces > 0) {
      const canary = classes.map((c) => (rng.chance(0.8) ? c : rng.int(7)));
      shadows.push({ classes: rng.chance(0.03) ? 'failed' : { stable: classes, canary }, generation });
    }
  }
  return { requests, shadows };
}

function ringOf(parts: { requests: Request[]; shadows: Shadow[] }[]): StatsRing {
  const ring = new StatsRing(10_000, () => 1_000_000);
  for (const p of parts) {
    for (const r of p.requests) ring.record(r);
    for (const s of p.shadows) ring.recordShadow(s.classes, s.generation);
  }
  return ring;
}

/** What GET /admin/v1/stats answers for `ring` (services/inference/usecases/stats.ts, without the HTTP). */
const statsOf = (ring: StatsRing, id: string, generation: number | null = GENERATION, windowSeconds = WINDOW): StatsOutput => ({
  windowSeconds,
  generation,
  replica: { id, startedAt: '2026-01-01T00:00:00.000Z' },
  slots: { stable: ring.slot('stable', VERSIONS.stable, windowSeconds, generation), canary: ring.slot('canary', VERSIONS.canary, windowSeconds, generation) },
  shadow: ring.shadow(windowSeconds, generation),
});

const driftOf = (ring: StatsRing, id: string): DriftOutput => ({
  windowSeconds: WINDOW,
  generation: GENERATION,
  replica: { id, startedAt: '2026-01-01T00:00:00.000Z' },
  binning: driftBinning(),
  slots: { stable: ring.drift('stable', VERSIONS.stable, WINDOW, GENERATION), canary: ring.drift('canary', VERSIONS.canary, WINDOW, GENERATION) },
});

/** The exact nearest-rank quantile of the raw latencies. */
function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} != ${b}`);

describe('fleet stats merge', () => {
  const parts = [traffic(1, 900, 1), traffic(2, 600, 1.5), traffic(3, 300, 4)];
  const replicas = parts.map((p) => ringOf([p]));
  const outputs = replicas.map((ring, i) => statsOf(ring, `replica-${i}`));
  const whole = statsOf(ringOf(parts), 'all');

  it('when three replicas are merged, then every count is the sum of theirs and the one of a ring fed all records', () => {
    const merged = mergeStats(outputs);
    assert.equal(merged.generation, GENERATION);
    assert.equal(merged.windowSeconds, WINDOW);
    assert.deepEqual(merged.replicas.map((r) => r.id), ['replica-0', 'replica-1', 'replica-2']);
    for (const slot of SLOT_NAMES) {
      const m = merged.slots[slot];
      for (const key of ['requests', 'errors', 'okRequests', 'noFaceRequests', 'faces'] as const) {
        assert.equal(m[key], outputs.reduce((s, o) => s + o.slots[slot][key], 0), `${slot} ${key}`);
        assert.equal(m[key], whole.slots[slot][key], `${slot} ${key} of all records`);
      }
      assert.ok(m.requests > 0);
      assert.equal(m.version, VERSIONS[slot]);
      assert.deepEqual(m.classCounts, whole.slots[slot].classCounts);
      close(m.confidenceSum, whole.slots[slot].confidenceSum);
      assert.deepEqual(m.latency, whole.slots[slot].latency, 'the merged sketch is the sketch of all records');
      assert.equal(m.meanConfidence, whole.slots[slot].meanConfidence);
      assert.equal(m.noFaceRate, whole.slots[slot].noFaceRate);
    }
  });

  it('when three replicas are merged, then p99 is the p99 of all records, within the sketch accuracy', () => {
    const merged = mergeStats(outputs);
    for (const slot of SLOT_NAMES) {
      const latencies = parts.flatMap((p) => p.requests.filter((r) => r.slot === slot && r.generation === GENERATION).map((r) => r.latencyMs));
      assert.equal(latencies.length, merged.slots[slot].requests);
      for (const [q, key] of [[0.5, 'p50'], [0.95, 'p95'], [0.99, 'p99']] as const) {
        const exact = exactQuantile(latencies, q);
        const got = merged.slots[slot].latencyMs[key]!;
        assert.ok(Math.abs(got - exact) <= exact * RELATIVE_ACCURACY + 5e-4, `${slot} ${key}: ${got} vs ${exact}`);
        assert.equal(got, whole.slots[slot].latencyMs[key]);
      }
    }
  });

  it('when shadow windows are merged, then agreement and chance agreement are those of all comparisons', () => {
    const merged = mergeStats(outputs);
    assert.equal(merged.shadow.compared, whole.shadow.compared);
    assert.equal(merged.shadow.agreed, whole.shadow.agreed);
    assert.equal(merged.shadow.errors, whole.shadow.errors);
    assert.deepEqual(merged.shadow.classCounts, whole.shadow.classCounts);
    assert.equal(merged.shadow.agreement, whole.shadow.agreement);
    assert.equal(merged.shadow.chanceAgreement, whole.shadow.chanceAgreement);
    assert.ok(merged.shadow.compared > 0 && merged.shadow.errors > 0);
  });

  it('when merges are merged, then the result is the merge of all replicas', () => {
    const nested = mergeStats([mergeStats(outputs.slice(0, 2)), outputs[2]]);
    assert.deepEqual(nested, mergeStats(outputs));
  });

  it('when outputs are for different generations, then the merge is refused', () => {
    const other = statsOf(replicas[2], 'replica-2', GENERATION - 1);
    assert.throws(() => mergeStats([outputs[0], outputs[1], other]), /generations differ: 12 \(replica-0\) and 11 \(replica-2\)/);
  });

  it('when outputs are for different windows, then the merge is refused', () => {
    assert.throws(() => mergeStats([outputs[0], statsOf(replicas[1], 'replica-1', GENERATION, 600)]), /windows differ: 60 s \(replica-0\) and 600 s \(replica-1\)/);
  });

  it('when one replica answered twice, then the merge is refused rather than counting it twice', () => {
    assert.throws(() => mergeStats([outputs[0], outputs[1], outputs[0]]), /replica replica-0 answered twice/);
  });

  it('when replicas name different versions for a slot, then the merge is refused', () => {
    const drifted = { ...outputs[1], slots: { ...outputs[1].slots, canary: { ...outputs[1].slots.canary, version: 'c5' } } };
    assert.throws(() => mergeStats([outputs[0], drifted]), /disagree on the canary version: c4 \(replica-0\) and c5 \(replica-1\)/);
  });

  it('when a replica has no occupant for a slot, then the others name its version', () => {
    const empty = statsOf(new StatsRing(10, () => 1_000_000), 'replica-3');
    empty.slots.canary = { ...empty.slots.canary, version: null };
    assert.equal(mergeStats([outputs[0], empty]).slots.canary.version, VERSIONS.canary);
  });

  it('when an answer carries only derived figures (an older service), then the merge is refused with why', () => {
    const { latency: _latency, okRequests: _ok, ...old } = outputs[1].slots.stable;
    const legacy = { ...outputs[1], slots: { ...outputs[1].slots, stable: old } } as unknown as StatsOutput;
    assert.throws(() => mergeStats([outputs[0], legacy]), /replica replica-1 answered no raw counts for stable/);
  });

  it('when nothing is given, then the merge is refused', () => {
    assert.throws(() => mergeStats([]), /no replica outputs/);
  });
});

describe('fleet drift merge', () => {
  const parts = [traffic(4, 500, 1), traffic(5, 400, 1), traffic(6, 200, 1)];
  const outputs = parts.map((p, i) => driftOf(ringOf([p]), `replica-${i}`));
  const whole = driftOf(ringOf(parts), 'all');

  it('when three replicas are merged, then histograms and counts are sums and rates those of all records', () => {
    const merged = mergeDrift(outputs);
    assert.deepEqual(merged.binning, driftBinning());
    for (const slot of SLOT_NAMES) {
      const m = merged.slots[slot];
      assert.deepEqual(m.features, whole.slots[slot].features);
      assert.ok(m.features.classes.reduce((a, b) => a + b, 0) > 0);
      assert.deepEqual([m.requests, m.requestsWithFace, m.faces], [whole.slots[slot].requests, whole.slots[slot].requestsWithFace, whole.slots[slot].faces]);
      assert.equal(m.faceDetectionRate, whole.slots[slot].faceDetectionRate);
      assert.equal(m.meanConfidence, whole.slots[slot].meanConfidence);
    }
  });

  it('when replicas bin differently or serve different generations, then the merge is refused', () => {
    const coarse = { ...outputs[1], binning: { ...outputs[1].binning, bins: 5 } };
    assert.throws(() => mergeDrift([outputs[0], coarse]), /replica-1 bins its histograms differently/);
    assert.throws(() => mergeDrift([outputs[0], { ...outputs[1], generation: null }]), /generations differ/);
  });
});
