/**
 * Stage breakdown of the predict path, in-process, without HTTP:
 *   node --import tsx bench/inference-stages.ts [iterations=20]
 * 1. a 640x480 JPEG with one face (Grace Hopper, padded): decode / detect / align / infer medians for our
 *    detection settings and for slow "textbook" settings (full resolution, scale 1.05, no rotated passes);
 * 2. faces found on the real test photos by each setting, beside a hand count of the people in them, and how
 *    many of the faces the previous default settings found each setting still finds (box centres match).
 * The model is the `strips` fixture (FEROPS_BENCH_MODEL=<model dir> to time a real one).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import sharp from 'sharp';
import { facesToTensorData } from '../lib/preprocess';
import { defaultCascadeDir } from '../services/inference/config';
import { loadCascades } from '../services/inference/runtime/cv';
import { decodeGray } from '../services/inference/runtime/decode';
import { type Box, DEFAULT_DETECT, type DetectOptions, findFaces } from '../services/inference/runtime/faces';
import { loadModel } from '../services/inference/runtime/model';
import { model as fixtureModel } from '../services/inference/testing/harness';
import { getPhotos } from '../infra/photos';

/** People visible in each photo, counted by hand. */
const HAND_COUNT: Record<string, number> = {
  'sample1.jpg': 3, 'sample2.jpg': 3, 'sample3.jpg': 3, 'sample4.jpg': 4, 'sample5.jpg': 5, 'sample6.jpg': 4,
  'astronaut.png': 1, 'grace_hopper.jpg': 1,
};

/** The settings before issue #6's tuning: every pass searched from the cascade's 24 px window up. */
const PREVIOUS: DetectOptions = { ...DEFAULT_DETECT, minFaceSide: 24, rotatedMinFaceSide: 24 };

const SETTINGS: Record<string, DetectOptions> = {
  ours: DEFAULT_DETECT,
  'previous (min face 24 on every pass)': PREVIOUS,
  'ours, upright only': { ...DEFAULT_DETECT, angles: [0] },
  'fast (320 px, upright only)': { ...DEFAULT_DETECT, detectMaxSide: 320, minFaceSide: 24, angles: [0] },
  'slow (full-res, 1.05)': { detectMaxSide: 100_000, scaleFactor: 1.05, minNeighbors: 3, minFaceSide: 30, rotatedMinFaceSide: 30, angles: [0] },
};

/** Same face: centres closer than half the smaller box (the detector's own duplicate rule). */
const sameFace = (a: Box, b: Box) =>
  Math.hypot(a.x + a.width / 2 - (b.x + b.width / 2), a.y + a.height / 2 - (b.y + b.height / 2)) < Math.min(a.width, b.width) / 2;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const iterations = Number(process.argv[2] ?? 20);
  const cascades = loadCascades(process.env.FEROPS_CASCADE_DIR ?? defaultCascadeDir());
  // The fixture models are built (and removed at exit) by the inference test harness.
  const modelDir = process.env.FEROPS_BENCH_MODEL ?? fixtureModel('strips');
  const model = await loadModel(modelDir, { version: basename(modelDir), source: modelDir }, { threads: 0, batchMax: 16, batchWaitMs: 0, variant: 'fp32' });
  const photos = getPhotos();
  if (!photos.graceHopper) throw new Error(`needs grace_hopper.jpg: ${photos.skipReason}`);
  // Two pipelines: sharp applies resize before extend within one, whatever the call order.
  const portrait = await sharp(readFileSync(photos.graceHopper)).resize({ height: 480 }).toBuffer(); // 410x480
  const jpeg = await sharp(portrait).extend({ left: 115, right: 115, background: '#808080' }).jpeg({ quality: 90 }).toBuffer();
  const meta = await sharp(jpeg).metadata();
  if (meta.width !== 640 || meta.height !== 480) throw new Error(`bench image is ${meta.width}x${meta.height}, expected 640x480`);

  console.log(`# stage medians over ${iterations} runs, 640x480 JPEG with one face, model ${basename(modelDir)}`);
  console.log('| settings | decode ms | detect ms | align ms | infer ms | total ms | faces |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, opts] of Object.entries(SETTINGS)) {
    const t: Record<string, number[]> = { decode: [], detect: [], align: [], infer: [], total: [] };
    let faces = 0;
    for (let i = 0; i < iterations + 2; i++) {
      const t0 = performance.now();
      const img = await decodeGray(jpeg, 40e6);
      const t1 = performance.now();
      const found = findFaces(img, cascades, true, opts);
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

  console.log('\n# faces found on the real photos (hand count = people visible; found may include false positives)');
  const names = Object.keys(SETTINGS);
  console.log(`| photo | hand count | ${names.join(' | ')} |`);
  console.log(`|---|---|${names.map(() => '---').join('|')}|`);
  const files = [...photos.samples, photos.astronaut!, photos.graceHopper];
  const totals = names.map(() => 0);
  const timings = names.map(() => 0);
  const kept = names.map(() => 0);
  let previousFaces = 0;
  for (const file of files) {
    const img = await decodeGray(readFileSync(file), 40e6);
    const reference = findFaces(img, cascades, true, PREVIOUS).faces.map((f) => f.box);
    previousFaces += reference.length;
    const counts = names.map((n, i) => {
      const r = findFaces(img, cascades, true, SETTINGS[n]);
      timings[i] += r.detectMs;
      totals[i] += Math.min(r.faces.length, HAND_COUNT[basename(file)] ?? 0);
      kept[i] += reference.filter((b) => r.faces.some((f) => sameFace(f.box, b))).length;
      return r.faces.length;
    });
    console.log(`| ${basename(file)} | ${HAND_COUNT[basename(file)]} | ${counts.join(' | ')} |`);
  }
  const people = files.reduce((a, f) => a + (HAND_COUNT[basename(f)] ?? 0), 0);
  console.log(`| recall upper bound (min(found, count) / ${people}) | | ${totals.map((x) => (x / people).toFixed(2)).join(' | ')} |`);
  console.log(`| faces of the previous settings also found (same box centre) | ${previousFaces} | ${kept.join(' | ')} |`);
  console.log(`| detect ms, all ${files.length} photos | | ${timings.map((x) => x.toFixed(0)).join(' | ')} |`);
  model.retire();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
