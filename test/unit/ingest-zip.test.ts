import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { extractEntry, isSafeEntryName, readZipEntries } from '../../activities/ingest/zip';
import { buildZip } from '../fixtures/ingest/zip-writer';

const dir = mkdtempSync(join(tmpdir(), 'ingest-zip-'));
after(() => rmSync(dir, { recursive: true, force: true }));

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
});
