/**
 * Stage breakdown of the predict path, in-process, without HTTP:
 *   node --import tsx bench/inference-stages.ts [iterations=20]
 * 1. a 640x480 JPEG with one face (Grace Hopper, padded): decode / detect / align / infer medians for BlazeFace
 *    (the default), the Tiny Face Detector (`cnn`) it replaced, the tuned Haar settings before that, and slow
 *    "textbook" Haar settings (full resolution, scale 1.05, no rotated passes);
 * 2. on the 8 real test photos, against a person's labels (test/fixtures/photo-labels.json, independent of every
 *    detector here): how many labelled frontal faces each setting finds (IoU >= 0.3), how many of its boxes
 *    cover no labelled face, and how far its alignment angle is from the labelled eye line.
 * The model is the demo architecture (bench/bench-models.ts; FEROPS_BENCH_MODEL=<model dir> to time another).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { facesToTensorData } from '../lib/preprocess';
import { loadConfig } from '../services/inference/config';
import { decodeGray } from '../services/inference/runtime/decode';
import type { HaarOptions } from '../services/inference/runtime/detectors/haar';
import { closeFaceEngine, createFaceEngine, type FaceEngine, type FaceSetup, faceSetup, findFaces } from '../services/inference/runtime/faces';
import { loadModel } from '../services/inference/runtime/model';
import { getPhotos } from '../infra/photos';
import { labelsFor, photoLabels, scorePhoto } from '../test/helpers/photo-labels';
import { defaultBenchModel } from './bench-models';
import { benchPhoto } from './real-inputs';

const cnn = (o: { detectMaxSide?: number; detectMinScore?: number; detectTilts?: number[]; detectMinFace?: number } = {}): FaceSetup =>
  faceSetup(loadConfig({ faceDetector: 'cnn', ...o }));
/** Haar as tuned in issue #6, before the CNN (480 px), with `o` on top; its angles are also the eye search's tilts. */
function haar(o: Partial<HaarOptions> = {}): FaceSetup {
  const tuned = faceSetup(loadConfig({ faceDetector: 'haar', detectMaxSide: 480 }));
  const options = { ...(tuned.detector.options as HaarOptions), ...o };
  return { ...tuned, detector: { name: 'haar', options }, eyeTilts: options.angles };
}
const blazeface = (o: { detectMinScore?: number; detectMinFace?: number } = {}): FaceSetup => faceSetup(loadConfig({ faceDetector: 'blazeface', ...o }));
const SETTINGS: Record<string, FaceSetup> = {
  'blazeface (default)': blazeface(),
  'blazeface, small faces from 24 px': blazeface({ detectMinFace: 24 }),
  'blazeface, score 0.5': blazeface({ detectMinScore: 0.5 }),
  'cnn 512 (Tiny Face Detector)': cnn(),
  'cnn 512, small faces from 24 px': cnn({ detectMinFace: 24 }),
  'cnn 416': cnn({ detectMaxSide: 416 }),
  'cnn 512, score 0.3': cnn({ detectMinScore: 0.3 }),
  'cnn 512, score 0.5': cnn({ detectMinScore: 0.5 }),
  'cnn 512, turned passes -35,35': cnn({ detectTilts: [-35, 35] }),
  'haar, tuned (before the cnn)': haar(),
  'haar, 320 px upright only': haar({ maxSide: 320, minFaceSide: 24, angles: [0] }),
  'haar, slow (full-res, 1.05)': haar({ maxSide: 100_000, scaleFactor: 1.05, minNeighbors: 3, minFaceSide: 30, rotatedMinFaceSide: 30, angles: [0] }),
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const iterations = Number(process.argv[2] ?? 20);
  const engines: Record<string, FaceEngine> = {};
  for (const [name, setup] of Object.entries(SETTINGS)) engines[name] = await createFaceEngine(setup);
  const { dir: modelDir, label } = defaultBenchModel();
  const model = await loadModel(modelDir, { version: basename(modelDir), source: modelDir }, { threads: 0, batchMax: 16, batchWaitMs: 0, variant: 'fp32' });
  const photos = getPhotos();
  const jpeg = await benchPhoto();

  console.log(`# stage medians over ${iterations} runs, 640x480 JPEG with one face, model: ${label}`);
  console.log('| settings | decode ms | detect ms | align ms | infer ms | total ms | faces |');
  console.log('|---|---|---|---|---|---|---|');
  for (const name of Object.keys(SETTINGS)) {
    const t: Record<string, number[]> = { decode: [], detect: [], align: [], infer: [], total: [] };
    let faces = 0;
    for (let i = 0; i < iterations + 2; i++) {
      const t0 = performance.now();
      const img = await decodeGray(jpeg, 40e6);
      const t1 = performance.now();
      const found = await findFaces(img, engines[name], true);
      const t2 = performance.now();
      await model.infer(facesToTensorData(found.faces.map((f) => f.pixels)), found.faces.length);
      const t3 = performance.now();
      if (i < 2) continue; // warm-up
      faces = found.faces.length;
      t.decode.push(t1 - t0);
      t.detect.push(found.detectMs);
      t.align.push(t2 - t1 - found.detectMs);
      t.infer.push(t3 - t2);
      t.total.push(t3 - t0);
    }
    const m = (k: string) => median(t[k]).toFixed(1);
    console.log(`| ${name} | ${m('decode')} | ${m('detect')} | ${m('align')} | ${m('infer')} | ${m('total')} | ${faces} |`);
  }

  console.log('\n# the 8 real photos against hand labels (test/fixtures/photo-labels.json): frontal faces found, boxes on no labelled face, median angle error');
  const names = Object.keys(SETTINGS);
  console.log(`| photo | frontal faces | ${names.join(' | ')} |`);
  console.log(`|---|---|${names.map(() => '---').join('|')}|`);
  const labels = photoLabels();
  const files = [...photos.samples, photos.astronaut, photos.graceHopper];
  const found = names.map(() => 0);
  const falseBoxes = names.map(() => 0);
  const angleErrs: number[][] = names.map(() => []);
  const timings = names.map(() => 0);
  let frontal = 0;
  for (const file of files) {
    const labelled = labelsFor(labels, file);
    const img = await decodeGray(readFileSync(file), 40e6);
    const cells: string[] = [];
    let photoFrontal = 0;
    for (const [i, n] of names.entries()) {
      const r = await findFaces(img, engines[n], true);
      timings[i] += r.detectMs;
      const score = scorePhoto(r.faces, labelled);
      photoFrontal = score.frontal;
      const hits = score.found.filter((f) => f !== undefined);
      found[i] += hits.length;
      falseBoxes[i] += score.falseBoxes.length;
      for (const h of hits) if (h.angleErrDeg !== null) angleErrs[i].push(Math.abs(h.angleErrDeg));
      cells.push(`${hits.length}/${score.frontal}${score.falseBoxes.length ? ` +${score.falseBoxes.length}` : ''}`);
    }
    frontal += photoFrontal;
    console.log(`| ${basename(file)} | ${photoFrontal} | ${cells.join(' | ')} |`);
  }
  console.log(`| **recall** | ${frontal} | ${found.map((x) => `${x}/${frontal}`).join(' | ')} |`);
  console.log(`| boxes on no labelled face | | ${falseBoxes.join(' | ')} |`);
  console.log(`| aligned faces, median abs angle error deg | | ${angleErrs.map((e) => (e.length ? `${e.length}, ${median(e).toFixed(1)}` : '0')).join(' | ')} |`);
  console.log(`| detect ms, all ${files.length} photos | | ${timings.map((x) => x.toFixed(0)).join(' | ')} |`);
  for (const e of Object.values(engines)) await closeFaceEngine(e);
  model.retire();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
