import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { RunningServer } from '../../services/inference/server';
import { postImage, startTestServer } from '../../services/inference/testing/harness';
import { getPhotos, type Photos } from '../../infra/photos';

/** Real photos (fetched at test time by test/fixtures/photos.ts) through the whole HTTP predict path. */
describe('inference on real photos', () => {
  let server: RunningServer;
  let photos: Photos;
  before(async () => {
    photos = getPhotos();
    server = await startTestServer();
  });
  after(() => server.stop());

  const needApt = (t: { skip(msg: string): void }): boolean => {
    if (photos.skipReason) {
      t.skip(photos.skipReason);
      return false;
    }
    return true;
  };

  it('when Grace Hopper and the astronaut are posted, then exactly one face each is found, inside the image', async (t) => {
    if (!needApt(t)) return;
    for (const file of [photos.graceHopper!, photos.astronaut!]) {
      const buf = readFileSync(file);
      const meta = await sharp(buf).metadata();
      const res = await postImage(server.url, buf, { contentType: file.endsWith('.png') ? 'image/png' : 'image/jpeg' });
      assert.equal(res.status, 200, basename(file));
      assert.equal(res.json.faces.length, 1, `${basename(file)}: ${JSON.stringify(res.json.faces.map((f: any) => f.box))}`);
      const { box } = res.json.faces[0];
      assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= meta.width! && box.y + box.height <= meta.height!);
      assert.ok(box.width > meta.width! / 8, 'a portrait face is not tiny');
    }
    assert.equal(server.ctx.faces.liveMats(), 0);
  });

  it('when a portrait is rotated by +-15 degrees, then the eye-line angle moves by that much (within 4 degrees)', async (t) => {
    if (!needApt(t)) return;
    const src = readFileSync(photos.astronaut!);
    const angleOf = async (deg: number) => {
      const img = deg === 0 ? src : await sharp(src).rotate(deg, { background: '#808080' }).png().toBuffer();
      const res = await postImage(server.url, img);
      assert.equal(res.json.faces.length, 1, `rotated ${deg}: ${res.json.faces.length} faces`);
      assert.equal(res.json.faces[0].alignment.eyesFound, 2, `rotated ${deg}: both eyes found`);
      return res.json.faces[0].alignment.angleDeg as number;
    };
    const upright = await angleOf(0);
    // sharp rotates clockwise for positive angles, which lowers the right eye: the measured tilt grows.
    for (const deg of [15, -15]) {
      const measured = (await angleOf(deg)) - upright;
      assert.ok(Math.abs(measured - deg) <= 4, `rotated ${deg}, measured ${measured.toFixed(1)}`);
    }
  });

  it('when the pixels are stored sideways with an EXIF orientation tag, then the face is found upright', async (t) => {
    if (!needApt(t)) return;
    const src = readFileSync(photos.graceHopper!);
    const sideways = await sharp(src).rotate(90).jpeg().toBuffer(); // pixels turned a quarter clockwise
    const tagged = await sharp(sideways).withMetadata({ orientation: 8 }).jpeg().toBuffer(); // "turn back to view"
    const withTag = await postImage(server.url, tagged, { contentType: 'image/jpeg' });
    assert.equal(withTag.json.faces.length, 1);
    assert.ok(withTag.json.faces[0].box.y + withTag.json.faces[0].box.height <= 600, 'box is in upright coordinates (512x600)');
    const withoutTag = await postImage(server.url, sideways, { contentType: 'image/jpeg' });
    assert.equal(withoutTag.json.faces.length, 0, 'control: the sideways pixels alone show no upright face');
  });

  it('when FEROPS_DETECT_ANGLES is 0 only, then tilted heads in a group photo are missed (the setting reaches the workers)', async () => {
    const sample4 = photos.samples.find((f) => f.endsWith('sample4.jpg'))!; // four women, most heads tilted
    const upright = await startTestServer({ detectAngles: [0] });
    try {
      const img = readFileSync(sample4);
      const few = (await postImage(upright.url, img, { contentType: 'image/jpeg' })).json.faces.length;
      const many = (await postImage(server.url, img, { contentType: 'image/jpeg' })).json.faces.length;
      assert.ok(few < many, `upright-only found ${few}, default found ${many}`);
    } finally {
      await upright.stop();
    }
  });

  it('when group photos are posted, then several faces are found in each', async () => {
    const counts: Record<string, number> = {};
    let bothEyes = 0;
    for (const file of photos.samples) {
      const res = await postImage(server.url, readFileSync(file), { contentType: 'image/jpeg' });
      assert.equal(res.status, 200);
      counts[basename(file)] = res.json.faces.length;
      for (const f of res.json.faces) {
        assert.ok(['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'].includes(f.label));
        if (f.alignment.eyesFound === 2) bothEyes++;
      }
    }
    const groups = Object.values(counts).filter((n) => n >= 2).length;
    assert.ok(groups >= 4, `faces per sample: ${JSON.stringify(counts)}`);
    assert.ok(Object.values(counts).reduce((a, b) => a + b, 0) >= 12, `faces per sample: ${JSON.stringify(counts)}`);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    assert.ok(bothEyes / total >= 0.6, `both eyes found in ${bothEyes} of ${total} faces`);
    assert.equal(server.ctx.faces.liveMats(), 0);
  });
});
