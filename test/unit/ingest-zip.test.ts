import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MAX_ZIP_TOTAL_BYTES, extractEntry, isSafeEntryName, readZipEntries } from '../../activities/ingest/zip';
import { buildZip } from '../fixtures/ingest/zip-writer';

const dir = mkdtempSync(join(tmpdir(), 'ingest-zip-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `zip` after `edit` rewrote its headers in place: the central directory starts where the EOCD says. */
function writePatched(name: string, zip: Buffer, edit: (z: Buffer, cdAt: number, eocdAt: number) => void): string {
  const eocdAt = zip.length - 22;
  edit(zip, zip.readUInt32LE(eocdAt + 16), eocdAt);
  const path = join(dir, name);
  writeFileSync(path, zip);
  return path;
}

describe('zip reader', () => {
  it('when a zip holds deflated, stored and empty entries, then each extracts to its exact bytes', async () => {
    const big = Buffer.from('0 1 2 3 '.repeat(50_000));
    const zip = join(dir, 'a.zip');
    writeFileSync(zip, buildZip([
      { name: 'data/fer2013.csv', data: big },
      { name: 'raw.bin', data: Buffer.from([1, 2, 3]), store: true },
      { name: 'empty.txt', data: '' },
    ]));
    const entries = await readZipEntries(zip);
    assert.deepEqual(entries.map((e) => [e.name, e.method, e.size]), [['data/fer2013.csv', 8, big.length], ['raw.bin', 0, 3], ['empty.txt', 8, 0]]);
    for (const [i, expected] of [big, Buffer.from([1, 2, 3])].entries()) {
      const out = join(dir, `out${i}`);
      await extractEntry(zip, entries[i], out);
      assert.ok(readFileSync(out).equals(expected));
    }
  });

  it('when the file is not a zip, then reading says so', async () => {
    const bad = join(dir, 'bad.zip');
    writeFileSync(bad, 'emotion,pixels,Usage\n');
    await assert.rejects(readZipEntries(bad), /not a zip file/);
  });

  it('when entry names climb out of the folder, then they are unsafe', () => {
    for (const name of ['../x', 'a/../../x', '/etc/passwd', 'C:/x', 'a\\..\\x']) assert.equal(isSafeEntryName(name), false, name);
    assert.equal(isSafeEntryName('fer2013/train/happy/1.png'), true);
  });

  it('when an entry inflates beyond its declared size (a zip bomb), then extraction stops and leaves no file', async () => {
    const zip = writePatched('bomb.zip', buildZip([{ name: 'fer2013.csv', data: Buffer.alloc(20 * 1024 * 1024) }]), (z, cdAt) => {
      z.writeUInt32LE(1000, cdAt + 24); // the central directory claims 1000 bytes; the data inflates to 20 MiB
    });
    const [entry] = await readZipEntries(zip);
    assert.equal(entry.size, 1000);
    const out = join(dir, 'bomb.out');
    await assert.rejects(extractEntry(zip, entry, out), /fer2013\.csv: inflates beyond its declared 1000 bytes/);
    assert.equal(existsSync(out), false);
  });

  it('when an entry holds fewer bytes than declared, then extraction says it is corrupt', async () => {
    const zip = writePatched('short.zip', buildZip([{ name: 'a.csv', data: 'abc'.repeat(100) }]), (z, cdAt) => z.writeUInt32LE(301, cdAt + 24));
    const [entry] = await readZipEntries(zip);
    await assert.rejects(extractEntry(zip, entry, join(dir, 'short.out')), /a\.csv: holds 300 bytes, not the declared 301/);
  });

  it('when the declared sizes add up past the cap, then reading refuses the archive', async () => {
    const zip = join(dir, 'total.zip');
    writeFileSync(zip, buildZip([{ name: 'a', data: 'x'.repeat(60) }, { name: 'b', data: 'y'.repeat(60) }]));
    await assert.rejects(readZipEntries(zip, { maxTotalBytes: 100 }), /declares more than 100 uncompressed bytes/);
    assert.equal((await readZipEntries(zip, { maxTotalBytes: 120 })).length, 2);
    // Five entries each claiming almost 4 GiB pass no default cap, whatever they really hold.
    const huge = writePatched('huge.zip', buildZip([{ name: 'a', data: 'a' }, { name: 'b', data: 'b' }, { name: 'c', data: 'c' }, { name: 'd', data: 'd' }, { name: 'e', data: 'e' }]), (z, cdAt) => {
      for (let k = 0, p = cdAt; k < 5; k++, p += 47) z.writeUInt32LE(0xfffffff0, p + 24);
    });
    assert.ok(5 * 0xfffffff0 > MAX_ZIP_TOTAL_BYTES);
    await assert.rejects(readZipEntries(huge), /declares more than \d+ uncompressed bytes/);
  });

  it('when the header claims a central directory larger than the file or more entries than it holds, then reading refuses before allocating', async () => {
    const zip = () => buildZip([{ name: 'a.csv', data: 'abc' }]);
    const big = writePatched('cd-size.zip', zip(), (z, _cd, eocdAt) => z.writeUInt32LE(64 * 1024 * 1024, eocdAt + 12));
    await assert.rejects(readZipEntries(big), /central directory \(67108864 bytes at \d+\) overruns the \d+-byte file/);
    const far = writePatched('cd-offset.zip', zip(), (z, _cd, eocdAt) => z.writeUInt32LE(0x7fffffff, eocdAt + 16));
    await assert.rejects(readZipEntries(far), /overruns/);
    const many = writePatched('cd-count.zip', zip(), (z, _cd, eocdAt) => z.writeUInt16LE(60_000, eocdAt + 10));
    await assert.rejects(readZipEntries(many), /60000 entries cannot fit a \d+-byte central directory/);
  });
});
