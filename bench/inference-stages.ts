/**
 * Stage breakdown of the predict path, in-process, without HTTP:
 *   node --import tsx bench/inference-stages.ts [iterations=20]
 * 1. a 640x480 JPEG with one face (Grace Hopper, padded): decode / detect / align / infer medians for the
 *    default CNN detector, the tuned Haar settings it replaced, and slow "textbook" Haar settings (full
 *    resolution, scale 1.05, no rotated passes);
 * 2. on the 8 real test photos: how many of the 24 labelled faces each setting finds (recall), how many of its
 *    boxes are not faces, and how many of the faces the slow settings find it finds too.
 * The model is the demo architecture (bench/bench-models.ts; FEROPS_BENCH_MODEL=<model dir> to time another).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import sharp from 'sharp';
import { facesToTensorData } from '../lib/preprocess';
import { loadConfig } from '../services/inference/config';
import { decodeGray } from '../services/inference/runtime/decode';
import type { HaarOptions } from '../services/inference/runtime/detectors/haar';
import { type Box, closeFaceEngine, createFaceEngine, type FaceEngine, type FaceSetup, faceSetup, findFaces } from '../services/inference/runtime/faces';
import { loadModel } from '../services/inference/runtime/model';
import { getPhotos } from '../infra/photos';
import { defaultBenchModel } from './bench-models';

/**
 * Every face in the test photos, labelled by hand: centre and side in full-size pixels. (Drawn from the CNN's
 * boxes and checked by eye on the photos: 24 people, all visible faces, no other face-like regions.)
 */
const LABELLED: Record<string, Array<[number, number, number]>> = {
  'grace_hopper.jpg': [[270, 252, 203]],
  'astronaut.png': [[221, 129, 129]],
  'sample1.jpg': [[928, 566, 275], [505, 513, 259], [1591, 326, 252]],
  'sample2.jpg': [[1545, 296, 273], [441, 293, 203], [975, 385, 182]],
  'sample3.jpg': [[671, 500, 260], [1584, 462, 285], [1171, 391, 283]],
  'sample4.jpg': [[753, 226, 242], [1055, 316, 258], [1350, 292, 232], [314, 331, 241]],
  'sample5.jpg': [[1507, 553, 251], [466, 1043, 276], [677, 558, 246], [1173, 341, 244], [854, 232, 206]],
  'sample6.jpg': [[757, 517, 272], [1601, 428, 295], [387, 648, 267], [1266, 492, 254]],
};

const cnn = (o: { detectMaxSide?: number; detectMinScore?: number } = {}): FaceSetup => faceSetup(loadConfig({ faceDetector: 'cnn', ...o }));
/** Haar as tuned in issue #6, before the CNN (480 px), with `o` on top; its angles are also the eye search's tilts. */
function haar(o: Partial<HaarOptions> = {}): FaceSetup {
  const tuned = faceSetup(loadConfig({ faceDetector: 'haar', detectMaxSide: 480 }));
  const options = { ...(tuned.detector.options as HaarOptions), ...o };
  return { ...tuned, detector: { name: 'haar', options }, eyeTilts: options.angles };
}
const SETTINGS: Record<string, FaceSetup> = {
  'cnn 512 (default)': cnn(),
  'cnn 416': cnn({ detectMaxSide: 416 }),
  'cnn 512, score 0.3': cnn({ detectMinScore: 0.3 }),
  'cnn 512, score 0.5': cnn({ detectMinScore: 0.5 }),
  'haar, tuned (before the cnn)': haar(),
  'haar, 320 px upright only': haar({ maxSide: 320, minFaceSide: 24, angles: [0] }),
  'haar, slow (full-res, 1.05)': haar({ maxSide: 100_000, scaleFactor: 1.05, minNeighbors: 3, minFaceSide: 30, rotatedMinFaceSide: 30, angles: [0] }),
};
const SLOW = 'haar, slow (full-res, 1.05)';

/** A box finds a labelled face when the face's centre is inside it and the sizes are within 2x. */
const finds = (b: Box, [cx, cy, side]: [number, number, number]) =>
  cx >= b.x && cx <= b.x + b.width && cy >= b.y && cy <= b.y + b.height && Math.max(b.width, b.height) / side < 2 && side / Math.max(b.width, b.height) < 2;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const iterations = Number(process.argv[2] ?? 20);
  const engines: Record<string, FaceEngine> = {};
  for (const [name, setup] of Object.entries(SETTINGS)) engines[name] = await createFaceEngine(setup);
  const { dir: modelDir, label } = defaultBenchModel();
  const model = await loadModel(modelDir, { version: basename(modelDir), source: modelDir }, { threads: 0, batchMax: 16, batchWaitMs: 0, variant: 'fp32' });
  const photos = getPhotos();
  // Two pipelines: sharp applies resize before extend within one, whatever the call order.
  const portrait = await sharp(readFileSync(photos.graceHopper)).resize({ height: 480 }).toBuffer(); // 410x480
  const jpeg = await sharp(portrait).extend({ left: 115, right: 115, background: '#808080' }).jpeg({ quality: 90 }).toBuffer();
  const meta = await sharp(jpeg).metadata();
  if (meta.width !== 640 || meta.height !== 480) throw new Error(`bench image is ${meta.width}x${meta.height}, expected 640x480`);

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

  console.log('\n# the 8 real photos: labelled faces found (recall), boxes that are not a labelled face, slow Haar\'s faces kept');
  const names = Object.keys(SETTINGS);
  console.log(`| photo | faces | ${names.join(' | ')} |`);
  console.log(`|---|---|${names.map(() => '---').join('|')}|`);
  const files = [...photos.samples, photos.astronaut, photos.graceHopper];
  const found = names.map(() => 0);
  const extra = names.map(() => 0);
  const keptOfSlow = names.map(() => 0);
  const timings = names.map(() => 0);
  let slowFaces = 0;
  for (const file of files) {
    const labelled = LABELLED[basename(file)];
    const img = await decodeGray(readFileSync(file), 40e6);
    const boxes: Box[][] = [];
    for (const [i, n] of names.entries()) {
      const r = await findFaces(img, engines[n], true);
      timings[i] += r.detectMs;
      boxes.push(r.faces.map((f) => f.box));
    }
    const bySlow = labelled.filter((face) => boxes[names.indexOf(SLOW)].some((b) => finds(b, face)));
    slowFaces += bySlow.length;
    const cells = names.map((_, i) => {
      const hits = labelled.filter((face) => boxes[i].some((b) => finds(b, face))).length;
      found[i] += hits;
      extra[i] += boxes[i].filter((b) => !labelled.some((face) => finds(b, face))).length;
      keptOfSlow[i] += bySlow.filter((face) => boxes[i].some((b) => finds(b, face))).length;
      return `${hits}/${labelled.length}`;
    });
    console.log(`| ${basename(file)} | ${labelled.length} | ${cells.join(' | ')} |`);
  }
  const total = files.reduce((a, f) => a + LABELLED[basename(f)].length, 0);
  console.log(`| **recall** | ${total} | ${found.map((x) => `${x}/${total}`).join(' | ')} |`);
  console.log(`| boxes that are not faces | | ${extra.join(' | ')} |`);
  console.log(`| of the ${slowFaces} faces slow Haar finds, also found | | ${keptOfSlow.join(' | ')} |`);
  console.log(`| detect ms, all ${files.length} photos | | ${timings.map((x) => x.toFixed(0)).join(' | ')} |`);
  for (const e of Object.values(engines)) await closeFaceEngine(e);
  model.retire();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
