/**
 * Face detection and alignment on the 8 real test photos turned from -30 to 30 degrees, against a person's labels
 * (test/fixtures/photo-labels.json), for BlazeFace (the default), BlazeFace with the small-face search and the Tiny
 * Face Detector: the tables of docs/inference.md#landmarks-and-alignment.
 *   node --import tsx bench/photo-sweep.ts [step=5]
 * step 5 is issue #22's grid (the procedure of test/unit/inference-photo-sweep.test.ts); step 1 turns the photos by
 * every whole degree, so that a result is not an accident of the grid. For each setting it prints faces found, boxes
 * on no labelled face, the angle error against the labelled eye line, eye NME, and the applied turn recovered: a
 * face's angle at each turn minus its angle upright, against the turn (free of the labels' own uncertainty).
 */
import { loadConfig } from '../services/inference/config';
import { closeFaceEngine, createFaceEngine, faceSetup } from '../services/inference/runtime/faces';
import { quantile, scoreTurnedPhotos, turnErrors } from '../test/helpers/photo-labels';

const SETTINGS: [string, Record<string, unknown>][] = [
  ['BlazeFace (default)', {}],
  ['BlazeFace + MTCNN (FEROPS_DETECT_MIN_FACE=24)', { detectMinFace: 24 }],
  ['Tiny Face Detector (cnn)', { faceDetector: 'cnn' }],
];

const stats = (xs: number[], digits: number) => [0.5, 0.9, 1].map((q) => quantile(xs, q).toFixed(digits)).join(' / ');

async function main(): Promise<void> {
  const step = Number(process.argv[2] ?? 5);
  // Upright (0) must be on the grid: each face's turn is read against its upright angle.
  if (!(Number.isInteger(step) && step > 0 && 30 % step === 0)) throw new Error(`step must be a whole number of degrees dividing 30, got ${process.argv[2]}`);
  const angles = Array.from({ length: Math.floor(60 / step) + 1 }, (_, i) => -30 + i * step);
  console.log(`# 8 photos x ${angles.length} turns (-30..30 by ${step} degrees), against hand labels`);
  console.log('| setting | frontal faces found | false boxes | aligned on landmarks | within 3 degrees of the labels | angle error median / p90 / max | eye NME median / p90 | turns recovered within 3 degrees | turn error median / p90 / max |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const [name, config] of SETTINGS) {
    const engine = await createFaceEngine(faceSetup(loadConfig({ cvWorkers: 0, ...config })));
    try {
      const [scores] = await scoreTurnedPhotos([engine], angles);
      const all = scores.map((s) => s.score);
      const found = all.flatMap((s) => s.found.filter((f) => f !== undefined));
      const angleErrs = found.flatMap((f) => (f.angleErrDeg === null ? [] : [Math.abs(f.angleErrDeg)]));
      const nmes = found.flatMap((f) => (f.nme === null ? [] : [f.nme]));
      const turns = turnErrors(scores);
      const frontal = all.reduce((a, s) => a + s.frontal, 0);
      const falseBoxes = all.reduce((a, s) => a + s.falseBoxes.length, 0);
      console.log(
        `| ${name} | ${found.length} / ${frontal} | ${falseBoxes} | ${angleErrs.length} / ${found.length} | ${angleErrs.filter((e) => e <= 3).length} / ${angleErrs.length} | ${stats(angleErrs, 2)} | ${[0.5, 0.9].map((q) => quantile(nmes, q).toFixed(3)).join(' / ')} | ${turns.filter((e) => e <= 3).length} / ${turns.length} | ${stats(turns, 1)} |`,
      );
    } finally {
      await closeFaceEngine(engine);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
