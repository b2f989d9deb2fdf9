import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NUM_CLASSES } from '../../lib/labels';
import {
  FER2013_CLASS_COUNTS, SYNTHETIC_DEFAULTS, SyntheticParams, classCountsFor, renderSyntheticFace, splitPlan, validateSyntheticParams,
} from '../../activities/ingest/synthetic/generate';
import { Rng } from '../../activities/ingest/synthetic/prng';

const FACE = 48 * 48;

function render(params: SyntheticParams, index: number, label: number): Uint8Array {
  const out = new Uint8Array(FACE);
  renderSyntheticFace(params, index, label, out, new Float32Array(FACE));
  return out;
}

describe('synthetic faces', () => {
  const params = { ...SYNTHETIC_DEFAULTS, size: 700, seed: 7 };

  it('when the seed is the same, then the faces are byte-identical; when it differs, then they differ', () => {
    assert.deepEqual(render(params, 5, 3), render(params, 5, 3));
    assert.notDeepEqual(render(params, 5, 3), render({ ...params, seed: 8 }, 5, 3));
    assert.deepEqual(splitPlan(params), splitPlan({ ...params }));
  });

  it('when balance is fer2013, then class shares follow FER2013 with disgust rare; when uniform, then equal', () => {
    const fer = classCountsFor(4000, 'fer2013');
    assert.equal(fer.reduce((a, b) => a + b, 0), 4000);
    const total = FER2013_CLASS_COUNTS.reduce((a, b) => a + b, 0);
    fer.forEach((n, c) => assert.ok(Math.abs(n - (4000 * FER2013_CLASS_COUNTS[c]) / total) < 1, `class ${c}: ${n}`));
    assert.equal(Math.min(...fer), fer[1]);
    assert.deepEqual(classCountsFor(700, 'uniform'), new Array(NUM_CLASSES).fill(100));
    assert.deepEqual(classCountsFor(702, 'uniform').reduce((a, b) => a + b, 0), 702);
  });

  it('when the plan splits, then it is stratified 80/10/10 and every class is in every split', () => {
    const plan = splitPlan({ ...params, size: 4000 });
    assert.deepEqual([plan.train.length, plan.val.length, plan.test.length], [3200, 400, 400]);
    for (const split of [plan.val, plan.test]) {
      for (let c = 0; c < NUM_CLASSES; c++) assert.ok(split.includes(c), `class ${c} missing`);
    }
  });

  it('when classes are compared on global statistics, then mean brightness and contrast do not give them away', () => {
    // 60 faces per class: the class means of per-image brightness/contrast must sit well inside the spread
    // between images, or a model could score by brightness alone.
    const mean: number[][] = [];
    const std: number[][] = [];
    let index = 0;
    for (let c = 0; c < NUM_CLASSES; c++) {
      mean.push([]);
      std.push([]);
      for (let k = 0; k < 60; k++) {
        const f = render(params, index++, c);
        let s = 0;
        let sq = 0;
        for (const p of f) {
          s += p;
          sq += p * p;
        }
        mean[c].push(s / FACE);
        std[c].push(Math.sqrt(sq / FACE - (s / FACE) ** 2));
      }
    }
    for (const [name, stat] of [['brightness', mean], ['contrast', std]] as const) {
      const all = stat.flat();
      const mu = all.reduce((a, b) => a + b, 0) / all.length;
      const sd = Math.sqrt(all.reduce((a, b) => a + (b - mu) ** 2, 0) / all.length);
      for (let c = 0; c < NUM_CLASSES; c++) {
        const cm = stat[c].reduce((a, b) => a + b, 0) / stat[c].length;
        assert.ok(Math.abs(cm - mu) < 0.35 * sd, `${name} of class ${c}: ${cm.toFixed(1)} vs ${mu.toFixed(1)} ± ${sd.toFixed(1)}`);
      }
    }
  });

  it('when the mouth region of happy and sad faces is compared, then the expressions really differ there', () => {
    // Corners-minus-centre height of the dark lip line: smiles curve up, frowns down. Averaged over faces,
    // the two classes must be told apart by the drawing, not by chance.
    const avg = (label: number): Float64Array => {
      const acc = new Float64Array(FACE);
      for (let k = 0; k < 40; k++) render({ ...params, difficulty: 0 }, 1000 + k, label).forEach((p, i) => (acc[i] += p / 40));
      return acc;
    };
    const happy = avg(3);
    const sad = avg(4);
    let diff = 0;
    for (let y = 30; y < 44; y++) for (let x = 14; x < 34; x++) diff += Math.abs(happy[y * 48 + x] - sad[y * 48 + x]);
    assert.ok(diff / (14 * 20) > 3, `mean abs difference in the mouth box ${(diff / 280).toFixed(2)}`);
  });

  it('when parameters are out of range, then validation names the bad one', () => {
    assert.throws(() => validateSyntheticParams({ size: 5 }), /size must be/);
    assert.throws(() => validateSyntheticParams({ seed: -1 }), /seed must be/);
    assert.throws(() => validateSyntheticParams({ difficulty: 2 }), /difficulty must be/);
    assert.throws(() => validateSyntheticParams({ balance: 'skewed' as 'uniform' }), /balance must be/);
    assert.deepEqual(validateSyntheticParams({ seed: undefined }), SYNTHETIC_DEFAULTS);
  });

  it('when the PRNG is seeded, then it is uniform enough and reproducible', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    let sum = 0;
    for (let i = 0; i < 10000; i++) {
      const x = a.next();
      assert.equal(x, b.next());
      assert.ok(x >= 0 && x < 1);
      sum += x;
    }
    assert.ok(Math.abs(sum / 10000 - 0.5) < 0.02);
  });
});
