import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ShadowStats } from '../../lib/inference-admin/stats';
import { RELATIVE_ACCURACY } from '../../lib/latency-sketch';
import { StatsRing } from '../../services/inference/runtime/stats-ring';

/** Within the latency sketch's relative accuracy of the exact value. */
const near = (got: number | null, exact: number) => assert.ok(got !== null && Math.abs(got - exact) <= exact * RELATIVE_ACCURACY + 5e-4, `${got} vs ${exact}`);
/** The derived figures of a shadow window (the raw counts behind them are checked apart). */
const shadowFigures = (s: ShadowStats) => ({ compared: s.compared, agreement: s.agreement, chanceAgreement: s.chanceAgreement, errors: s.errors });

/** One request record as the predict path writes it. */
const rec = (slot: string, version: string, latencyMs: number, classes: number[], ok = true, generation: number | null = null) => ({
  slot,
  version,
  generation,
  ok,
  latencyMs,
  classes,
  confidenceSum: classes.length * 0.5,
});

describe('StatsRing', () => {

  it('when records span versions, slots and time, then a slot query counts only its version inside the window', () => {
    let now = 1_000_000;
    const s = new StatsRing(100, () => now);
    s.record(rec('stable', 'v1', 10, [3])); // old version: excluded
    now += 50_000;
    s.record(rec('stable', 'v2', 20, [3, 4]));
    s.record(rec('stable', 'v2', 30, []));
    s.record(rec('stable', 'v2', 40, [], false));
    s.record(rec('canary', 'c1', 5, [0]));
    const st = s.slot('stable', 'v2', 60);
    assert.equal(st.requests, 3);
    assert.equal(st.errors, 1);
    assert.equal(st.faces, 2);
    assert.equal(st.classCounts.happy, 1);
    assert.equal(st.classCounts.sad, 1);
    assert.equal(st.noFaceRate, 0.5);
    assert.equal(st.meanConfidence, 0.5);
    assert.equal(st.okRequests, 2);
    assert.equal(st.noFaceRequests, 1);
    assert.equal(st.confidenceSum, 1);
    near(st.latencyMs.p50, 30);
    near(st.latencyMs.p95, 40);
    near(st.latencyMs.p99, 40);
    now += 61_000;
    assert.equal(s.slot('stable', 'v2', 60).requests, 0);
    assert.equal(s.slot('stable', 'v2', 60).latencyMs.p50, null);
  });

  it('when more records arrive than the capacity, then only the newest are kept', () => {
    const s = new StatsRing(100, () => 5);
    for (let i = 0; i < 1000; i++) s.record(rec('stable', 'v', i, [1]));
    const st = s.slot('stable', 'v', 60);
    assert.equal(st.requests, 100);
    near(st.latencyMs.p50, 949);
  });

  it('when shadow comparisons are recorded, then agreement is agreed over compared, with the chance agreement of their class mix', () => {
    const s = new StatsRing(10, () => 1);
    assert.deepEqual(shadowFigures(s.shadow(60)), { compared: 0, agreement: null, chanceAgreement: null, errors: 0 });
    assert.equal(s.recordShadow({ stable: [3, 3, 4], canary: [3, 4, 4] }, null), 2);
    assert.equal(s.recordShadow({ stable: [6], canary: [6] }, null), 1);
    // stable 3,3,4,6 and canary 3,4,4,6: p_e = (2*1 + 1*2 + 1*1) / 4^2
    const sh = s.shadow(60);
    assert.deepEqual(shadowFigures(sh), { compared: 4, agreement: 0.75, chanceAgreement: round3(5 / 16), errors: 0 });
    assert.equal(sh.agreed, 3);
    assert.deepEqual(sh.classCounts.stable, { angry: 0, disgust: 0, fear: 0, happy: 2, sad: 1, surprise: 0, neutral: 1 });
    assert.deepEqual(sh.classCounts.canary, { angry: 0, disgust: 0, fear: 0, happy: 1, sad: 2, surprise: 0, neutral: 1 });
  });

  it('when the canary answers one class only, then its agreement is exactly what chance gives', () => {
    const s = new StatsRing(10, () => 1);
    s.recordShadow({ stable: [0, 3, 3, 4, 5, 6, 3, 2], canary: new Array(8).fill(3) }, null);
    const { agreement, chanceAgreement } = s.shadow(60);
    assert.equal(agreement, chanceAgreement);
  });

  it('when shadow runs fail, then they are counted apart from the comparisons', () => {
    const s = new StatsRing(10, () => 1);
    s.recordShadow({ stable: [1, 2], canary: [1, 2] }, null);
    s.recordShadow('failed', null);
    assert.deepEqual(shadowFigures(s.shadow(60)), { compared: 2, agreement: 1, chanceAgreement: 0.5, errors: 1 });
  });
});

const round3 = (x: number) => Math.round(x * 1000) / 1000;

describe('StatsRing drift and face columns', () => {
  const face = (c: number, brightness: number) => ({ slot: 'stable', version: 'v', generation: null, ok: true, latencyMs: 1, classes: [c], confidenceSum: 0.9, crops: [{ brightness, contrast: 0.2 }] });

  it('when faces with crops are recorded, then drift bins their classes, brightness and contrast, and skips failures', () => {
    const s = new StatsRing(10, () => 1);
    s.record(face(3, 0.05));
    s.record(face(3, 0.95));
    s.record({ slot: 'stable', version: 'v', generation: null, ok: true, latencyMs: 1, classes: [], confidenceSum: 0 }); // no face
    s.record({ slot: 'stable', version: 'v', generation: null, ok: false, latencyMs: 1, classes: [], confidenceSum: 0 });
    s.record(face(0, 0.5));
    const d = s.drift('stable', 'v', 60);
    assert.equal(d.requests, 4);
    assert.equal(d.faces, 3);
    assert.equal(d.faceDetectionRate, 0.75);
    assert.equal(d.requestsWithFace, 3);
    assert.ok(Math.abs(d.confidenceSum - 2.7) < 1e-9);
    assert.equal(d.meanConfidence, 0.9);
    assert.equal(d.features.classes[3], 2);
    assert.equal(d.features.classes[0], 1);
    const bins = d.features.brightness;
    assert.equal(bins[0], 1, 'the dark crop in the first bin');
    assert.equal(bins[bins.length - 1], 1, 'the bright crop in the last bin');
    assert.equal(d.features.contrast.reduce((a, b) => a + b, 0), 3);
    assert.equal(s.drift('stable', 'other', 60).requests, 0);
    assert.equal(s.drift('stable', null, 60).faces, 0);
  });

  it('when a request record is overwritten, then its faces leave the class counts with it', () => {
    const s = new StatsRing(2, () => 1);
    s.record({ slot: 'stable', version: 'v', generation: null, ok: true, latencyMs: 1, classes: [0, 0, 0], confidenceSum: 1 });
    s.record({ slot: 'stable', version: 'v', generation: null, ok: true, latencyMs: 1, classes: [1], confidenceSum: 1 });
    s.record({ slot: 'stable', version: 'v', generation: null, ok: true, latencyMs: 1, classes: [2], confidenceSum: 1 });
    const st = s.slot('stable', 'v', 60);
    assert.equal(st.requests, 2);
    assert.equal(st.faces, 2);
    assert.deepEqual(Object.values(st.classCounts), [0, 1, 1, 0, 0, 0, 0]);
  });
});

describe('StatsRing generations', () => {
  const req = (version: string, generation: number | null, latencyMs: number, classes: number[], ok = true) => ({
    ...rec('canary', version, latencyMs, classes, ok, generation),
    crops: classes.map(() => ({ brightness: 0.5, contrast: 0.2 })),
  });

  it('when records of several generations share a window, then a query for one generation counts only its records', () => {
    const s = new StatsRing(100, () => 1);
    s.record(req('c1', 4, 10, [3]));
    s.record(req('c1', 4, 20, [3], false));
    s.record(req('c1', 5, 30, [4, 4]));
    s.record(req('c1', 5, 40, []));
    s.record(req('c1', 5, 50, [0], false));
    s.record(req('c1', null, 60, [1]));
    const g4 = s.slot('canary', 'c1', 60, 4);
    assert.deepEqual([g4.requests, g4.errors, g4.faces, g4.classCounts.happy, g4.classCounts.sad], [2, 1, 1, 1, 0]);
    near(g4.latencyMs.p99, 20);
    const g5 = s.slot('canary', 'c1', 60, 5);
    assert.deepEqual([g5.requests, g5.errors, g5.okRequests, g5.noFaceRequests, g5.faces, g5.classCounts.sad, g5.classCounts.happy], [3, 1, 2, 1, 2, 2, 0]);
    near(g5.latencyMs.p50, 40);
    assert.equal(s.slot('canary', 'c1', 60, null).requests, 1, 'null: the records of a standalone service');
    assert.equal(s.slot('canary', 'c1', 60, 6).requests, 0);
    assert.equal(s.slot('canary', 'c1', 60).requests, 6, 'no generation: every record, as before generations');
    assert.equal(s.drift('canary', 'c1', 60, 5).faces, 2);
    assert.deepEqual(s.drift('canary', 'c1', 60, 5).features.classes, [0, 0, 0, 0, 2, 0, 0]);
    assert.equal(s.drift('canary', 'c1', 60).faces, 4);
  });

  it('when shadow comparisons span generations, then a query for one generation counts only its comparisons', () => {
    const s = new StatsRing(10, () => 1);
    s.recordShadow({ stable: [1, 2], canary: [1, 2] }, 7);
    s.recordShadow({ stable: [3], canary: [4] }, 8);
    s.recordShadow('failed', 8);
    assert.deepEqual(shadowFigures(s.shadow(60, 7)), { compared: 2, agreement: 1, chanceAgreement: 0.5, errors: 0 });
    assert.deepEqual(shadowFigures(s.shadow(60, 8)), { compared: 1, agreement: 0, chanceAgreement: 0, errors: 1 });
    assert.equal(s.shadow(60).compared, 3);
  });

  it('when a slot changed version between generations, then versionServed names the version of each generation', () => {
    let now = 1_000_000;
    const s = new StatsRing(10, () => now);
    s.record(req('c1', 1, 10, [3]));
    s.record(req('c2', 2, 10, [3]));
    s.record({ ...req('s1', 2, 10, [3]), slot: 'stable' });
    assert.equal(s.versionServed('canary', 60, 1), 'c1');
    assert.equal(s.versionServed('canary', 60, 2), 'c2');
    assert.equal(s.versionServed('stable', 60, 2), 's1');
    assert.equal(s.versionServed('canary', 60, 3), null);
    now += 61_000;
    assert.equal(s.versionServed('canary', 60, 2), null, 'outside the window');
  });
});
