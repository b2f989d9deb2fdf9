import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { IngestError, ingestDataset } from '../../activities/ingest';
import { readManifest, readSplit } from '../../lib/dataset';
import { pythonBin } from '../../lib/paths';
import { fer2013Csv, goodRows, noiseFace } from '../fixtures/ingest/faces';

const root = mkdtempSync(join(tmpdir(), 'ingest-csv-'));
after(() => rmSync(root, { recursive: true, force: true }));

function writeCsv(name: string, text: string): string {
  const path = join(root, name);
  writeFileSync(path, text);
  return path;
}

describe('FER2013 CSV ingest', () => {
  const rows = goodRows({ train: 14, val: 7, test: 7 });
  const csv = writeCsv('fer.csv', fer2013Csv(rows));

  it('when a CSV is ingested, then TypeScript and numpy read back exactly its pixels and labels', async () => {
    const dataRoot = join(root, 'data-roundtrip');
    const res = await ingestDataset({ kind: 'fer2013-csv', path: csv }, { dataRoot });
    assert.equal(res.reused, false);
    assert.match(res.datasetId, /^[0-9a-f]{16}$/);
    assert.equal(res.uri, join(dataRoot, 'datasets', res.datasetId));
    assert.deepEqual(res.manifest.splits, { train: 14, val: 7, test: 7 });
    assert.equal(res.manifest.source.kind, 'fer2013-csv');
    assert.deepEqual(readManifest(res.uri), res.manifest);
    assert.ok(existsSync(join(res.uri, 'samples.png')));

    const test = readSplit(res.uri, 'test');
    assert.equal(test.count, 7);
    for (let i = 0; i < 7; i++) {
      assert.deepEqual(test.images.subarray(i * 2304, (i + 1) * 2304), noiseFace(21 + i));
      assert.equal(test.labels[i], (21 + i) % 7);
    }

    // numpy must see the same bytes: print a checksum of each array and the first test row's pixels.
    const script = [
      'import numpy as np, sys, json',
      'd = sys.argv[1]',
      'out = {}',
      "for s in ['train', 'val', 'test']:",
      "    x = np.load(f'{d}/{s}_images.npy', mmap_mode='r'); y = np.load(f'{d}/{s}_labels.npy')",
      "    assert x.dtype == np.uint8 and y.dtype == np.uint8 and x.shape == (len(y), 48, 48), (x.dtype, x.shape, y.shape)",
      '    out[s] = [int(x.astype(np.int64).sum()), y.tolist()]',
      "out['first'] = np.load(f'{d}/test_images.npy')[0].reshape(-1)[:16].tolist()",
      'print(json.dumps(out))',
    ].join('\n');
    const py = spawnSync(pythonBin(), ['-c', script, res.uri], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    const got = JSON.parse(py.stdout) as Record<string, [number, number[]]> & { first: number[] };
    for (const s of ['train', 'val', 'test'] as const) {
      const split = readSplit(res.uri, s);
      assert.equal(got[s][0], split.images.reduce((a, b) => a + b, 0), `${s} pixel sum`);
      assert.deepEqual(got[s][1], Array.from(split.labels));
    }
    assert.deepEqual(got.first, Array.from(noiseFace(21).subarray(0, 16)));
  });

  it('when the same CSV is ingested again, then the same id comes back as reused and nothing is rewritten', async () => {
    const dataRoot = join(root, 'data-reuse');
    const first = await ingestDataset({ kind: 'fer2013-csv', path: csv }, { dataRoot });
    const mtime = statSync(join(first.uri, 'train_images.npy')).mtimeMs;
    const phases: string[] = [];
    const second = await ingestDataset({ kind: 'fer2013-csv', path: `file://${csv}` }, { dataRoot, onProgress: (p) => phases.push(p.phase) });
    assert.equal(second.reused, true);
    assert.equal(second.datasetId, first.datasetId);
    assert.equal(statSync(join(first.uri, 'train_images.npy')).mtimeMs, mtime);
    assert.ok(!phases.includes('parse-csv'), `re-ingest parsed again: ${phases.join(',')}`);
    // a copy of the file under another name is the same content: same id, found by its hash
    const copy = writeCsv('copy.csv', fer2013Csv(rows));
    assert.equal((await ingestDataset({ kind: 'fer2013-csv', path: copy }, { dataRoot })).datasetId, first.datasetId);
    assert.deepEqual(readdirSync(join(dataRoot, 'datasets')), [first.datasetId]);
  });

  it('when rejects stay under the limit, then the dataset is written and the manifest counts them', async () => {
    const text = fer2013Csv([...rows, { emotion: 8, pixels: noiseFace(900) }]);
    const res = await ingestDataset({ kind: 'fer2013-csv', path: writeCsv('one-bad.csv', text) }, { dataRoot: join(root, 'data-one-bad') });
    assert.deepEqual(res.manifest.rejected.byReason, { label_out_of_range: 1 });
    assert.deepEqual(res.manifest.rejected.rows, [{ where: 'line 30', reason: 'label_out_of_range: emotion 8' }]);
  });

  it('when too many rows are bad, then it fails non-retryably with example rows and writes nothing', async () => {
    const bad = Array.from({ length: 3 }, (_, i) => ({ emotion: 1, pixels: '1 2 3', usage: 'Training' as const, i }));
    const path = writeCsv('bad.csv', fer2013Csv([...rows, ...bad]));
    const dataRoot = join(root, 'data-bad');
    await assert.rejects(ingestDataset({ kind: 'fer2013-csv', path }, { dataRoot }), (err: unknown) => {
      assert.ok(err instanceof IngestError);
      assert.equal(err.code, 'too_many_rejects');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /rejected 3 of 31 rows/);
      assert.match(err.message, /line 30 \(wrong_pixel_count/);
      return true;
    });
    assert.ok(!existsSync(join(dataRoot, 'datasets')) || readdirSync(join(dataRoot, 'datasets')).length === 0);
    // a looser limit accepts the same file
    const res = await ingestDataset({ kind: 'fer2013-csv', path }, { dataRoot, maxRejectRatio: 0.2 });
    assert.equal(res.manifest.rejected.total, 3);
  });

  it('when a split is missing or the file does not exist, then bad_source explains', async () => {
    const onlyTrain = writeCsv('train-only.csv', fer2013Csv(goodRows({ train: 5, val: 0, test: 0 })));
    await assert.rejects(ingestDataset({ kind: 'fer2013-csv', path: onlyTrain }, { dataRoot: join(root, 'd1') }),
      (err: unknown) => err instanceof IngestError && err.code === 'bad_source' && /no val or test data/.test(err.message));
    await assert.rejects(ingestDataset({ kind: 'fer2013-csv', path: join(root, 'nope.csv') }, { dataRoot: join(root, 'd2') }),
      (err: unknown) => err instanceof IngestError && err.code === 'bad_source' && /nope\.csv/.test(err.message));
    await assert.rejects(ingestDataset({ kind: 'fer2013-csv', path: 's3://bucket/x.csv' }, { dataRoot: join(root, 'd3') }),
      (err: unknown) => err instanceof IngestError && /only local paths/.test(err.message));
  });

  it('when the signal is aborted, then ingest stops with the abort reason and leaves no dataset', async () => {
    const dataRoot = join(root, 'data-abort');
    const ctl = new AbortController();
    const reason = new Error('cancelled by test');
    const run = ingestDataset({ kind: 'fer2013-csv', path: csv }, {
      dataRoot,
      onProgress: (p) => {
        if (p.phase === 'parse-csv') ctl.abort(reason);
      },
      signal: ctl.signal,
    });
    await assert.rejects(run, (err: unknown) => err === reason);
    assert.ok(!existsSync(join(dataRoot, 'datasets')));
  });
});
