import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { npyHeader, parseNpyHeader, readNpyUint8, writeNpyUint8 } from '../../lib/dataset/npy';
import { readSplit } from '../../lib/dataset';

const dir = mkdtempSync(join(tmpdir(), 'dataset-npy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('npy uint8 files', () => {
  it('when a 3-D array is written, then it reads back with the same shape and bytes', () => {
    const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => (i * 37) % 256);
    const path = join(dir, 'a.npy');
    writeNpyUint8(path, data, [2, 3, 4]);
    const back = readNpyUint8(path);
    assert.deepEqual(back.shape, [2, 3, 4]);
    assert.deepEqual(Array.from(back.data), Array.from(data));
  });

  it('when the header is built, then data starts on a 64-byte boundary and 1-D shapes keep their comma', () => {
    const header = npyHeader([5]);
    assert.equal(header.length % 64, 0);
    assert.match(header.toString('latin1'), /'shape': \(5,\)/);
    assert.equal(header[header.length - 1], 0x0a);
  });

  it('when an empty array is written, then it reads back as zero rows', () => {
    const path = join(dir, 'empty.npy');
    writeNpyUint8(path, new Uint8Array(0), [0, 48, 48]);
    assert.deepEqual(readNpyUint8(path).shape, [0, 48, 48]);
  });

  it('when the data does not fill the shape, then writing refuses', () => {
    assert.throws(() => writeNpyUint8(join(dir, 'bad.npy'), new Uint8Array(5), [2, 3]), /do not fill shape/);
  });

  it('when a file is not npy, has another dtype or is truncated, then reading says which', () => {
    const notNpy = join(dir, 'x.npy');
    writeFileSync(notNpy, 'hello world, not numpy');
    assert.throws(() => readNpyUint8(notNpy), /bad magic/);

    const f4 = Buffer.from(npyHeader([2]).toString('latin1').replace("'|u1'", "'<f4'"), 'latin1');
    assert.throws(() => parseNpyHeader(f4), /dtype <f4 is not uint8/);

    const truncated = join(dir, 't.npy');
    writeNpyUint8(truncated, new Uint8Array(10), [10]);
    writeFileSync(truncated, readFileSync(truncated).subarray(0, -3));
    assert.throws(() => readNpyUint8(truncated), /needs 10/);
  });

  it('when a split has images and labels that disagree in count, then readSplit refuses', () => {
    const ds = mkdtempSync(join(dir, 'ds-'));
    writeNpyUint8(join(ds, 'train_images.npy'), new Uint8Array(2 * 48 * 48), [2, 48, 48]);
    writeNpyUint8(join(ds, 'train_labels.npy'), new Uint8Array(3), [3]);
    assert.throws(() => readSplit(ds, 'train'), /2 images but labels of shape \[3\]/);
    assert.throws(() => readSplit(ds, 'bogus' as 'train'), /unknown split/);
  });
});
