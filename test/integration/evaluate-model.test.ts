import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { evaluateModel } from '../../activities/evaluate';
import { writeNpyUint8 } from '../../lib/dataset';
import { LABELS } from '../../lib/labels';
import { REPO_ROOT, pythonBin } from '../../lib/paths';

let work: string;
let models: string;
let dataset: string;
// 70 faces, 10 per class: class k has a bright vertical strip k (which the "strips" fixture model detects),
// except that the last 2 faces of every class are labelled one class higher, so exact numbers are known.
const N = 70;
const WRONG_PER_CLASS = 2;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'ferops-'));
  models = join(work, 'models');
  execFileSync(pythonBin(), [join(REPO_ROOT, 'test', 'fixtures', 'make_models.py'), models], { stdio: 'ignore' });
  dataset = join(work, 'dataset');
  mkdirSync(dataset);
  const images = new Uint8Array(N * 48 * 48).fill(20);
  const labels = new Uint8Array(N);
  for (let i = 0; i < N; i++) {
    const k = Math.floor(i / 10);
    const x0 = Math.floor((k * 48) / 7);
    for (let y = 0; y < 48; y++) for (let x = x0; x < x0 + 6; x++) images[i * 2304 + y * 48 + x] = 240;
    labels[i] = i % 10 >= 10 - WRONG_PER_CLASS ? (k + 1) % 7 : k;
  }
  writeNpyUint8(join(dataset, 'test_images.npy'), images, [N, 48, 48]);
  writeNpyUint8(join(dataset, 'test_labels.npy'), labels, [N]);
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('evaluateModel', () => {
  it('when a model and a champion are evaluated, then exact scores, latency and the report files come back', async () => {
    const outDir = join(work, 'out');
    const r = await evaluateModel({
      modelDir: join(models, 'strips'),
      championModelDir: join(models, 'constant-happy'),
      datasetUri: dataset,
      outDir,
      batchSize: 16,
      latencySamples: 30,
    });
    assert.equal(r.count, N);
    assert.ok(Math.abs(r.accuracy - 56 / 70) < 1e-9, `accuracy ${r.accuracy}`);
    // Each class: 8 right of 10 predicted; 8 right of 8 + 2 = 10 true -> P = R = F1 = 0.8.
    for (const l of LABELS) assert.ok(Math.abs(r.perClass[l].f1 - 0.8) < 1e-9, l);
    assert.ok(Math.abs(r.macroF1 - 0.8) < 1e-9);
    assert.equal(r.confusion[0][0], 8);
    assert.equal(r.confusion[1][0], 2, 'the 2 angry-looking faces labelled disgust');
    assert.ok(r.ece >= 0 && r.ece <= 1);
    assert.equal(r.latencyMs.samples, 30);
    assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p99 >= r.latencyMs.p50);
    assert.equal(r.variant, 'fp32');

    const champion = r.champion;
    assert.ok(champion);
    assert.ok(Math.abs(champion!.accuracy - 10 / 70) < 1e-9, 'constant "happy" is right on the 10 happy-labelled faces');
    assert.equal(champion!.perClass.happy.recall, 1);

    const confusion = JSON.parse(readFileSync(join(outDir, 'confusion.json'), 'utf8'));
    assert.deepEqual(confusion.matrix, r.confusion);
    assert.deepEqual(confusion.labels, [...LABELS]);
    assert.equal(JSON.parse(readFileSync(join(outDir, 'per_class.json'), 'utf8')).candidate.sad.support, 10);
    const png = await sharp(join(outDir, 'confusion.png')).metadata();
    assert.equal(png.format, 'png');
    assert.ok(existsSync(join(outDir, 'champion_confusion.png')));
    assert.ok(JSON.stringify(r).length < 20_000, 'the report stays small enough for a workflow history');
  });

  it('when the int8 variant is asked for, then model.int8.onnx is the file measured', async () => {
    const r = await evaluateModel({ modelDir: join(models, 'strips'), datasetUri: dataset, variant: 'int8', outDir: join(work, 'out8'), latencySamples: 5 });
    assert.match(r.modelFile, /model\.int8\.onnx$/);
    assert.equal(r.champion, undefined);
  });

  it('when the model is broken or mislabelled, then the error says what is wrong', async () => {
    const run = (name: string) => evaluateModel({ modelDir: join(models, name), datasetUri: dataset, outDir: join(work, `bad-${name}`), latencySamples: 1 });
    await assert.rejects(run('bad-labels'), /labels\.json must be \["angry"/);
    await assert.rejects(run('no-labels'), /labels\.json is missing/);
    // The service's own refusals (lib/onnx), word for word: a model the service would not load is not evaluated.
    await assert.rejects(run('wrong-input'), /input pixels is float32 \[B, 3, 224, 224\]/);
    await assert.rejects(run('corrupt'), /model\.onnx is not a loadable ONNX model/);
    await assert.rejects(run('failing'), /warm-up run failed/);
    await assert.rejects(evaluateModel({ modelDir: join(models, 'strips'), datasetUri: join(work, 'nope'), outDir: join(work, 'x') }), /nope/);
  });
});
