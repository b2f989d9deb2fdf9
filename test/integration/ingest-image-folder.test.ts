import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { IngestError, ingestDataset } from '../../activities/ingest';
import { readSplit } from '../../lib/dataset';
import { LABELS } from '../../lib/labels';
import { noiseFace } from '../fixtures/ingest/faces';

// The image tree and the data roots are siblings: a data root inside the tree would change its hash.
const base = mkdtempSync(join(tmpdir(), 'ingest-folder-'));
const root = join(base, 'images');
after(() => rmSync(base, { recursive: true, force: true }));

async function put(rel: string, img: Buffer | Promise<Buffer>): Promise<void> {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, await img);
}

/** A colour image of any size, from a seeded noise face scaled up. */
const colourPng = (seed: number, w: number, h: number): Promise<Buffer> =>
  sharp(Buffer.from(noiseFace(seed)), { raw: { width: 48, height: 48, channels: 1 } }).resize(w, h).toColourspace('srgb').png().toBuffer();

describe('image-folder ingest', () => {
  before(async () => {
    // train: 10 per class (mixed case folder names, png and jpg, sizes and colour); test: 2 per class; no val/
    let seed = 0;
    for (const [c, label] of LABELS.entries()) {
      const dir = c % 2 === 0 ? label.toUpperCase() : label;
      for (let i = 0; i < 10; i++) {
        const ext = i % 3 === 0 ? 'jpg' : 'png';
        const img = ext === 'jpg' ? sharp(await colourPng(seed, 64, 80)).jpeg().toBuffer() : colourPng(seed, 48, 48);
        await put(`Train/${dir}/img${i}.${ext}`, img);
        seed++;
      }
      for (let i = 0; i < 2; i++) await put(`test/${label}/t${i}.png`, colourPng(1000 + seed++, 96, 96));
    }
    await put('train/happy/broken.png', Buffer.from('not really a png'));
    await put('train/contempt/x.png', colourPng(5000, 48, 48));
    await put('train/happy/notes.txt', Buffer.from('hello'));
    await put('train/happy/.DS_Store', Buffer.from('mac'));
    await put('README.md', Buffer.from('# my faces'));
  });

  it('when folders hold images of any size and colour, then each becomes a 48x48 gray face in its class', async () => {
    const res = await ingestDataset({ kind: 'image-folder', path: root }, { dataRoot: join(base, 'data'), maxRejectRatio: 0.1 });
    const m = res.manifest;
    assert.equal(m.splits.train + m.splits.val, 70);
    assert.ok(m.splits.val > 0, 'val carved from train');
    assert.equal(m.splits.test, 14);
    assert.deepEqual(m.classCounts.test, [2, 2, 2, 2, 2, 2, 2]);
    assert.deepEqual(m.rejected.byReason, { unreadable_image: 1, unknown_class: 1, not_an_image: 1 });
    assert.deepEqual(m.rejected.rows.map((r) => r.where).sort(), ['train/contempt/x.png', 'train/happy/broken.png', 'train/happy/notes.txt']);

    // A 48x48 gray png goes through unchanged (grayscale of gray is identity).
    const train = readSplit(res.uri, 'train');
    const val = readSplit(res.uri, 'val');
    const all = [train, val].flatMap((s) => Array.from({ length: s.count }, (_, i) => Buffer.from(s.images.subarray(i * 2304, (i + 1) * 2304)).toString('hex')));
    assert.ok(all.includes(Buffer.from(noiseFace(1)).toString('hex')), 'exact pixels of train/angry/img1.png');
  });

  it('when the folder is ingested again, then the same version is reused', async () => {
    const dataRoot = join(base, 'data2');
    const a = await ingestDataset({ kind: 'image-folder', path: root }, { dataRoot, maxRejectRatio: 0.1 });
    const b = await ingestDataset({ kind: 'image-folder', path: root }, { dataRoot, maxRejectRatio: 0.1 });
    assert.equal(b.reused, true);
    assert.equal(b.datasetId, a.datasetId);
  });

  it('when the folder has no test/ or does not exist, then bad_source explains the layout', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'ingest-folder-empty-'));
    mkdirSync(join(empty, 'train', 'happy'), { recursive: true });
    await assert.rejects(ingestDataset({ kind: 'image-folder', path: empty }, { dataRoot: join(empty, 'data') }),
      (err: unknown) => err instanceof IngestError && err.code === 'bad_source' && /train\/<class>\/ and test\/<class>\//.test(err.message));
    await assert.rejects(ingestDataset({ kind: 'image-folder', path: join(empty, 'missing') }, { dataRoot: join(empty, 'data') }),
      (err: unknown) => err instanceof IngestError && /does not exist/.test(err.message));
    rmSync(empty, { recursive: true, force: true });
  });
});
