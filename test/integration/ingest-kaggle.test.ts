import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { IngestError, ingestDataset } from '../../activities/ingest';
import { readSplit } from '../../lib/dataset';
import { LABELS } from '../../lib/labels';
import { FakeKaggle, startFakeKaggle } from '../fixtures/ingest/kaggle-server';
import { fer2013Csv, goodRows, noiseFace } from '../fixtures/ingest/faces';
import { buildZip } from '../fixtures/ingest/zip-writer';

const root = mkdtempSync(join(tmpdir(), 'ingest-kaggle-'));
const saved = { u: process.env.KAGGLE_USERNAME, k: process.env.KAGGLE_KEY, c: process.env.KAGGLE_CONFIG_DIR };
let kaggle: FakeKaggle;

const isIngestError = (code: string, pattern: RegExp, nonRetryable?: boolean) => (err: unknown) => {
  assert.ok(err instanceof IngestError, String(err));
  assert.equal(err.code, code);
  assert.match(err.message, pattern);
  if (nonRetryable !== undefined) assert.equal(err.nonRetryable, nonRetryable);
  return true;
};

describe('Kaggle ingest', () => {
  before(async () => {
    const csvZip = buildZip([{ name: 'fer2013.csv', data: fer2013Csv(goodRows({ train: 14, val: 7, test: 7 })) }, { name: 'README.txt', data: 'x', store: true }]);
    const pngs = [];
    for (const [c, label] of LABELS.entries()) {
      for (let i = 0; i < 4; i++) {
        const png = await sharp(Buffer.from(noiseFace(c * 10 + i)), { raw: { width: 48, height: 48, channels: 1 } }).png().toBuffer();
        pngs.push({ name: `fer2013/${i === 0 ? 'test' : 'train'}/${label}/im${i}.png`, data: png, store: true });
      }
    }
    kaggle = await startFakeKaggle({
      username: 'ada',
      key: 's3cret',
      files: { 'someone/fer-csv': csvZip, 'someone/fer-images': buildZip(pngs), 'someone/fer-csv/fer2013.csv': Buffer.from(fer2013Csv(goodRows({ train: 7, val: 7, test: 7 }, 50))) },
    });
    process.env.KAGGLE_CONFIG_DIR = join(root, 'no-kaggle-dir'); // never read the developer's real kaggle.json
  });
  afterEach(() => {
    process.env.KAGGLE_USERNAME = 'ada';
    process.env.KAGGLE_KEY = 's3cret';
  });
  after(async () => {
    await kaggle.close();
    rmSync(root, { recursive: true, force: true });
    for (const [k, v] of [['KAGGLE_USERNAME', saved.u], ['KAGGLE_KEY', saved.k], ['KAGGLE_CONFIG_DIR', saved.c]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('when credentials are set and the slug holds a FER2013 CSV zip, then it downloads with basic auth and ingests', async () => {
    process.env.KAGGLE_USERNAME = 'ada';
    process.env.KAGGLE_KEY = 's3cret';
    const dataRoot = join(root, 'csv');
    const phases = new Set<string>();
    const res = await ingestDataset({ kind: 'kaggle', slug: 'someone/fer-csv' }, { dataRoot, kaggleApiBase: kaggle.apiBase, onProgress: (p) => phases.add(p.phase) });
    assert.deepEqual(res.manifest.splits, { train: 14, val: 7, test: 7 });
    assert.deepEqual(res.manifest.source, { kind: 'kaggle', slug: 'someone/fer-csv', sha256: (res.manifest.source as { sha256: string }).sha256, inner: 'fer2013-csv' });
    assert.deepEqual(readSplit(res.uri, 'val').images.subarray(0, 2304), noiseFace(14));
    const api = kaggle.requests.find((r) => r.path === '/api/v1/datasets/download/someone/fer-csv');
    assert.equal(api?.authorization, `Basic ${Buffer.from('ada:s3cret').toString('base64')}`);
    assert.ok(phases.has('download') && phases.has('parse-csv'));
    assert.deepEqual(readdirSync(join(dataRoot, 'downloads')), [], 'temp download cleaned up');

    const again = await ingestDataset({ kind: 'kaggle', slug: 'someone/fer-csv' }, { dataRoot, kaggleApiBase: kaggle.apiBase });
    assert.equal(again.reused, true);
    assert.equal(again.datasetId, res.datasetId);
  });

  it('when the archive holds train/ and test/ image folders under a top folder, then they are ingested as images', async () => {
    const res = await ingestDataset({ kind: 'kaggle', slug: 'someone/fer-images' }, { dataRoot: join(root, 'img'), kaggleApiBase: kaggle.apiBase });
    assert.equal((res.manifest.source as { inner: string }).inner, 'image-folder');
    assert.equal(res.manifest.splits.test, 7);
    assert.equal(res.manifest.splits.train + res.manifest.splits.val, 21);
  });

  it('when one file is asked for and comes back raw, then it is parsed as the CSV', async () => {
    const res = await ingestDataset({ kind: 'kaggle', slug: 'someone/fer-csv', file: 'fer2013.csv' }, { dataRoot: join(root, 'file'), kaggleApiBase: kaggle.apiBase });
    assert.deepEqual(res.manifest.splits, { train: 7, val: 7, test: 7 });
    assert.ok(kaggle.requests.some((r) => r.path === '/api/v1/datasets/download/someone/fer-csv/fer2013.csv'));
  });

  it('when credentials are missing, then it fails at once, naming what is missing, without a request', async () => {
    delete process.env.KAGGLE_USERNAME;
    delete process.env.KAGGLE_KEY;
    const before = kaggle.requests.length;
    await assert.rejects(ingestDataset({ kind: 'kaggle', slug: 'someone/fer-csv' }, { dataRoot: join(root, 'nocred'), kaggleApiBase: kaggle.apiBase }),
      isIngestError('missing_credentials', /set KAGGLE_USERNAME and KAGGLE_KEY/, true));
    process.env.KAGGLE_USERNAME = 'ada';
    await assert.rejects(ingestDataset({ kind: 'kaggle', slug: 'someone/fer-csv' }, { dataRoot: join(root, 'nocred'), kaggleApiBase: kaggle.apiBase }),
      isIngestError('missing_credentials', /set KAGGLE_KEY /, true));
    assert.equal(kaggle.requests.length, before);
  });

  it('when the key is wrong, the slug unknown or malformed, then the error says so and is not retried', async () => {
    process.env.KAGGLE_USERNAME = 'ada';
    process.env.KAGGLE_KEY = 'wrong';
    await assert.rejects(ingestDataset({ kind: 'kaggle', slug: 'someone/fer-csv' }, { dataRoot: join(root, 'x'), kaggleApiBase: kaggle.apiBase }),
      isIngestError('missing_credentials', /refused the credentials of user "ada" \(HTTP 401\)/, true));
    process.env.KAGGLE_KEY = 's3cret';
    await assert.rejects(ingestDataset({ kind: 'kaggle', slug: 'someone/nothing' }, { dataRoot: join(root, 'x'), kaggleApiBase: kaggle.apiBase }),
      isIngestError('bad_source', /HTTP 404/, true));
    await assert.rejects(ingestDataset({ kind: 'kaggle', slug: 'no-slash' }, { dataRoot: join(root, 'x'), kaggleApiBase: kaggle.apiBase }),
      isIngestError('bad_source', /owner\/dataset/, true));
  });

  it('when the workflow input names its own apiBase, then it is refused and the credentials go nowhere', async () => {
    process.env.KAGGLE_USERNAME = 'ada';
    process.env.KAGGLE_KEY = 's3cret';
    // Serves the same data, so an endpoint taken from the input would succeed: only a refusal passes.
    const attacker = await startFakeKaggle({ username: 'ada', key: 's3cret', files: { 'someone/fer-csv': buildZip([{ name: 'fer2013.csv', data: fer2013Csv(goodRows({ train: 7, val: 7, test: 7 })) }]) } });
    try {
      const source = { kind: 'kaggle', slug: 'someone/fer-csv', apiBase: attacker.apiBase } as const;
      await assert.rejects(ingestDataset(source as never, { dataRoot: join(root, 'attack'), kaggleApiBase: kaggle.apiBase }),
        isIngestError('bad_source', /invalid kaggle source: .*'apiBase'/, true));
      assert.deepEqual(attacker.requests, []);
    } finally {
      await attacker.close();
    }
  });

  it('when Kaggle cannot be reached, then download_failed says so (retryable) and leaves no files', async () => {
    const dataRoot = join(root, 'offline');
    // a port that was just free: nothing listens, the connection is refused at once
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await assert.rejects(ingestDataset({ kind: 'kaggle', slug: 'someone/fer-csv' }, { dataRoot, kaggleApiBase: `http://127.0.0.1:${port}/api/v1` }),
      isIngestError('download_failed', new RegExp(`cannot reach 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`), false));
    assert.ok(!existsSync(join(dataRoot, 'datasets')));
    assert.deepEqual(readdirSync(join(dataRoot, 'downloads')), []);
  });
});
