import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig } from '../../services/inference/config';
import { decodeGray } from '../../services/inference/runtime/decode';
import { createFaceFinder } from '../../services/inference/runtime/face-finder';
import { type FaceResult, faceSetup } from '../../services/inference/runtime/faces';
import { labelsFor, photoLabels, shrinkPhoto } from '../helpers/photo-labels';
import { getPhotos } from '../../infra/photos';
import { faceNetFile } from '../../lib/paths';
import { model } from '../../services/inference/testing/harness';

/** The setup the service builds from its config: the defaults, or what the environment sets. */
const setupWith = (overrides: Parameters<typeof loadConfig>[0] = {}) => faceSetup(loadConfig(overrides));
const setup = setupWith();

describe('face finder', () => {
  it('when detection runs on worker threads, then the result equals the in-process one and no Mat leaks', async () => {
    const photo = getPhotos().samples[2]; // three people
    const img = await decodeGray(readFileSync(photo), 40e6);
    const local = await createFaceFinder(setup, 0);
    const pool = await createFaceFinder(setup, 2);
    try {
      const a = await local.find(img, true);
      const [b, c] = await Promise.all([pool.find(img, true), pool.find(img, true)]);
      assert.ok(a.faces.length >= 2);
      for (const r of [b, c]) {
        assert.deepEqual(r.faces.map((f) => f.box), a.faces.map((f) => f.box));
        assert.deepEqual(r.faces.map((f) => f.alignment), a.faces.map((f) => f.alignment));
        assert.deepEqual(r.faces.map((f) => Buffer.from(f.pixels)), a.faces.map((f) => Buffer.from(f.pixels)));
      }
      assert.equal(pool.liveMats(), 0);
      assert.equal(local.liveMats(), 0);
    } finally {
      await pool.close();
      await local.close();
    }
  });

  it('when the small-face search is on, then a pool of two searches each photo on the other worker and answers what one thread does, photos in parallel too', async () => {
    const searching = setupWith({ detectMinFace: 24 });
    const photos = getPhotos();
    const labels = photoLabels();
    const shrunk = await Promise.all(
      [photos.astronaut, photos.graceHopper, ...photos.samples.slice(0, 2)].map(async (f) => (await shrinkPhoto(await decodeGray(readFileSync(f), 40e6), labelsFor(labels, f), 30)).img),
    );
    const local = await createFaceFinder(searching, 0);
    const pool = await createFaceFinder(searching, 2);
    try {
      const view = (r: FaceResult) => r.faces.map((f) => ({ box: f.box, alignment: f.alignment, faceScore: f.faceScore, pixels: Buffer.from(f.pixels) }));
      const alone: FaceResult[] = [];
      for (const img of shrunk) alone.push(await local.find(img, true));
      assert.ok(alone.reduce((n, r) => n + r.faces.length, 0) >= 4, 'the search finds the shrunk faces');
      // Every photo at once: both workers wait on a search they asked of the other, which must not deadlock.
      const pooled = await Promise.all(shrunk.map((img) => pool.find(img, true)));
      pooled.forEach((r, i) => assert.deepEqual(view(r), view(alone[i]), `photo ${i}`));
      assert.equal(pool.searchesElsewhere(), shrunk.length);
      assert.equal(pool.liveMats(), 0);
    } finally {
      await pool.close();
      await local.close();
    }
  });

  it('when a photo asks for the small-face search the service does not run by default, then the pool runs it for that photo only, P-Net on the other worker', async () => {
    const photos = getPhotos();
    const sample5 = photos.samples.find((f) => f.endsWith('sample5.jpg'))!; // five faces, few of which BlazeFace finds at 30 px
    const small = await shrinkPhoto(await decodeGray(readFileSync(sample5), 40e6), labelsFor(photoLabels(), sample5), 30);
    const local = await createFaceFinder(setup, 0);
    const pool = await createFaceFinder(setup, 2);
    try {
      const boxes = (r: FaceResult) => r.faces.map((f) => f.box);
      const asked = await pool.find(small.img, true, 24);
      assert.equal(asked.faces.length, 5, 'the search finds the shrunk faces');
      assert.deepEqual(boxes(asked), boxes(await local.find(small.img, true, 24)));
      assert.equal(pool.searchesElsewhere(), 1);
      const notAsked = (await pool.find(small.img, true)).faces.length;
      assert.ok(notAsked <= 3, `control: not asked, BlazeFace alone found ${notAsked} of 5`);
      assert.equal(pool.searchesElsewhere(), 1);
    } finally {
      await pool.close();
      await local.close();
    }
  });

  it('when a job fails inside a worker, then only that job is rejected and the pool keeps working', async () => {
    const pool = await createFaceFinder(setup, 1);
    try {
      const bad = { data: Buffer.alloc(10), width: 100, height: 100, format: 'raw' }; // fewer bytes than pixels
      await assert.rejects(pool.find(bad, true), /face detection failed/);
      const ok = await pool.find({ data: Buffer.alloc(64 * 64, 200), width: 64, height: 64, format: 'raw' }, false);
      assert.equal(ok.faces.length, 1);
      assert.equal(pool.liveMats(), 0);
    } finally {
      await pool.close();
    }
  });

  it('when a face worker dies, then only its own photo fails, a photo whose P-Net it was running is searched by its own worker, and a fresh worker takes its place, later ones slower while they keep dying', { timeout: 120_000 }, async () => {
    // The pool's Worker handles are its own; the test records them as they are made, to crash one as a bug would: a
    // null message makes its message handler throw, an uncaught exception. (Not terminate(): onnxruntime-node aborts
    // the whole process when a thread is terminated with a run in flight, which the service never does but at exit.)
    const threads: typeof import('node:worker_threads') = require('node:worker_threads');
    const RealWorker = threads.Worker;
    const crash = (w: InstanceType<typeof RealWorker>) => w.postMessage(null);
    const made: InstanceType<typeof RealWorker>[] = [];
    let killOnSearch = false;
    let crashOnBirth = 0;
    threads.Worker = class extends RealWorker {
      constructor(...args: ConstructorParameters<typeof RealWorker>) {
        super(...args);
        made.push(this);
        // The null message is read once the worker is ready: a worker that dies as it starts.
        if (crashOnBirth > 0) {
          crashOnBirth--;
          crash(this);
        }
      }
      override postMessage(msg: unknown, transfer?: readonly import('node:worker_threads').Transferable[]): void {
        super.postMessage(msg, transfer);
        // Crashed with another worker's P-Net just handed to it: the asker must not wait forever.
        if (killOnSearch && typeof msg === 'object' && msg !== null && 'small' in msg) {
          killOnSearch = false;
          crash(this);
        }
      }
    };
    const photos = getPhotos();
    const sample5 = photos.samples.find((f) => f.endsWith('sample5.jpg'))!;
    const small = (await shrinkPhoto(await decodeGray(readFileSync(sample5), 40e6), labelsFor(photoLabels(), sample5), 30)).img;
    const local = await createFaceFinder(setup, 0);
    const crashes: [string, number][] = [];
    const pool = await createFaceFinder(setup, 2, (err, respawnInMs) => crashes.push([err.message, respawnInMs]));
    try {
      const boxes = (r: FaceResult) => r.faces.map((f) => f.box);
      const expected = boxes(await local.find(small, true, 24));
      assert.equal(expected.length, 5, 'control: the search finds the shrunk faces');

      killOnSearch = true;
      // Raced against a deadline so that a photo left waiting fails the test instead of hanging it.
      const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the photo was left waiting')), 30_000).unref());
      const answered = await Promise.race([pool.find(small, true, 24), late]);
      assert.deepEqual(boxes(answered), expected, 'the asker searched itself when its helper died');
      assert.equal(killOnSearch, false, 'a helper crashed mid-search');
      assert.equal(pool.searchesElsewhere(), 0);

      // A worker crashed with a photo of its own in hand: that photo fails, saying why; the other worker's does not.
      const inHand = [pool.find(small, true), pool.find(small, true)]; // one each: the pool sends a photo to the idler worker
      crash(made.at(-1)!);
      crashOnBirth = 2; // its next two replacements die as they start (checked below)
      const settled = await Promise.allSettled(inHand);
      const failed = settled.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []));
      const others = settled.flatMap((s) => (s.status === 'fulfilled' ? [boxes(s.value)] : []));
      assert.equal(failed.length, 1, 'the crashed worker\'s photo fails');
      assert.match(failed[0], /face worker crashed: Cannot use 'in' operator/);
      assert.deepEqual(others, [boxes(await local.find(small, true))]);

      // While replacements keep dying, each waits twice as long as the one before: not a spinning loop.
      const deadline = Date.now() + 60_000;
      while (crashes.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(crashes.map(([, ms]) => ms), [0, 500, 1000, 2000]);
      for (const [message] of crashes) assert.match(message, /^face worker crashed: /);

      // The next replacement comes up: two workers again, so a search is again run beside the detector.
      let searched = 0;
      while (searched === 0 && Date.now() < deadline) {
        assert.deepEqual(boxes(await pool.find(small, true, 24)), expected);
        searched = pool.searchesElsewhere();
      }
      assert.ok(searched > 0, 'a replacement worker ran another worker\'s P-Net');
      assert.equal(pool.liveMats(), 0);
    } finally {
      threads.Worker = RealWorker;
      await pool.close();
      await local.close();
    }
  });

  it('when a 48x48 crop is sent without detection, then the shortcut returns the same pixels opencv would', async () => {
    const local = await createFaceFinder(setup, 0);
    try {
      const data = Buffer.from(Array.from({ length: 48 * 48 }, (_, i) => (i * 37) % 256));
      const crop = await local.find({ data, width: 48, height: 48, format: 'raw' }, false);
      assert.deepEqual(Buffer.from(crop.faces[0].pixels), data);
      assert.deepEqual(crop.faces[0].box, { x: 0, y: 0, width: 48, height: 48 });
      // Control: a 49x48 crop goes through opencv (resized), so the shortcut is the only difference.
      const other = await local.find({ data: Buffer.alloc(49 * 48, 9), width: 49, height: 48, format: 'raw' }, false);
      assert.equal(other.faces[0].pixels.length, 48 * 48);
      assert.equal(local.liveMats(), 0);
    } finally {
      await local.close();
    }
  });

  it('when the cascade dir is wrong, then creating a Haar pool fails with a message naming FEROPS_CASCADE_DIR; the CNN, which aligns on landmarks, does not need it', async () => {
    const bad = { ...setupWith({ faceDetector: 'haar' }), cascadeDir: '/nonexistent/cascades' };
    await assert.rejects(createFaceFinder(bad, 1), /FEROPS_CASCADE_DIR/);
    await assert.rejects(createFaceFinder(bad, 0), /FEROPS_CASCADE_DIR/);
    const cnn = await createFaceFinder({ ...setup, cascadeDir: '/nonexistent/cascades' }, 0);
    try {
      const { faces } = await cnn.find(await decodeGray(readFileSync(getPhotos().graceHopper), 40e6), true);
      assert.equal(faces.length, 1);
      assert.equal(faces[0].alignment.method, 'landmarks');
    } finally {
      await cnn.close();
    }
  });

  it('when the detector model is missing, then start-up fails saying how to make it, and Haar does not need it', async () => {
    const faceDetectorModel = '/nonexistent/detector.onnx';
    const bad = setupWith({ faceDetectorModel });
    await assert.rejects(createFaceFinder(bad, 1), /npm run bootstrap/);
    await assert.rejects(createFaceFinder(bad, 0), /FEROPS_FACE_DETECTOR_MODEL/);
    const haar = await createFaceFinder(setupWith({ faceDetectorModel, faceDetector: 'haar' }), 0);
    await haar.close();
  });

  it('when the detector model is not the face detector, then start-up fails naming the file', async () => {
    const notDetector = setupWith({ faceDetectorModel: model('strips') + '/model.onnx' });
    await assert.rejects(createFaceFinder(notDetector, 0), /model\.onnx is not the converted BlazeFace face detector/);
    // The other CNN's net, e.g. a FEROPS_FACE_DETECTOR_MODEL left from before BlazeFace was the default.
    const tiny = setupWith({ faceDetectorModel: faceNetFile('tiny_face_detector.onnx') });
    await assert.rejects(createFaceFinder(tiny, 0), /tiny_face_detector\.onnx is not the converted BlazeFace face detector/);
    const blaze = setupWith({ faceDetector: 'cnn', faceDetectorModel: faceNetFile('blazeface_back.onnx') });
    await assert.rejects(createFaceFinder(blaze, 0), /blazeface_back\.onnx is not the converted face detector/);
  });
});
