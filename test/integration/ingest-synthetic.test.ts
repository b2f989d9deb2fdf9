import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { IngestError, ingestDataset } from '../../activities/ingest';
import { readSplit } from '../../lib/dataset';

const root = mkdtempSync(join(tmpdir(), 'ingest-synth-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('synthetic ingest', () => {
  const source = { kind: 'synthetic' as const, size: 350, seed: 3, balance: 'uniform' as const };

  it('when a synthetic set is ingested, then splits, class counts, stats and the sample sheet are written', async () => {
    const progress: number[] = [];
    const res = await ingestDataset(source, { dataRoot: join(root, 'a'), onProgress: (p) => p.phase === 'generate' && progress.push(p.done) });
    const m = res.manifest;
    assert.deepEqual(m.splits, { train: 280, val: 35, test: 35 });
    assert.deepEqual(m.classCounts.val, [5, 5, 5, 5, 5, 5, 5]);
    assert.deepEqual(m.classCounts.train, [40, 40, 40, 40, 40, 40, 40]);
    assert.equal(m.rejected.total, 0);
    assert.ok(m.pixelStats.std > 20 && m.pixelStats.mean > 60 && m.pixelStats.mean < 190, JSON.stringify(m.pixelStats));
    assert.deepEqual(m.source, { kind: 'synthetic', size: 350, seed: 3, difficulty: 0.5, balance: 'uniform', generatorVersion: 1 });
    assert.equal(progress.at(-1), 350);
    const meta = await sharp(join(res.uri, 'samples.png')).metadata();
    assert.deepEqual([meta.width, meta.height], [960, 672]);
    assert.equal(readSplit(res.uri, 'train').count, 280);
  });

  it('when the same parameters are ingested into another root, then the content id is the same (deterministic)', async () => {
    const a = await ingestDataset(source, { dataRoot: join(root, 'b1') });
    const b = await ingestDataset(source, { dataRoot: join(root, 'b2') });
    assert.equal(a.datasetId, b.datasetId);
    const c = await ingestDataset({ ...source, seed: 4 }, { dataRoot: join(root, 'b2') });
    assert.notEqual(c.datasetId, a.datasetId);
  });

  it('when it is ingested twice, even concurrently, then one version exists and the repeat is reused untouched', async () => {
    const dataRoot = join(root, 'c');
    const [x, y] = await Promise.all([ingestDataset(source, { dataRoot }), ingestDataset(source, { dataRoot })]);
    assert.equal(x.datasetId, y.datasetId);
    assert.deepEqual(readdirSync(join(dataRoot, 'datasets')), [x.datasetId]);
    const mtime = statSync(join(x.uri, 'manifest.json')).mtimeMs;
    const again = await ingestDataset(source, { dataRoot });
    assert.equal(again.reused, true);
    assert.equal(statSync(join(x.uri, 'manifest.json')).mtimeMs, mtime);
  });

  it('when a crashed writer left an old temp dir, then the next write removes it and keeps a fresh one', async () => {
    const dataRoot = join(root, 'f');
    const stale = join(dataRoot, 'datasets', '.tmp-dead-1');
    const fresh = join(dataRoot, 'datasets', '.tmp-live-2');
    mkdirSync(stale, { recursive: true });
    mkdirSync(fresh);
    const old = new Date(Date.now() - 7 * 3600_000);
    utimesSync(stale, old, old);
    await ingestDataset(source, { dataRoot });
    assert.equal(existsSync(stale), false);
    assert.equal(existsSync(fresh), true);
  });

  it('when parameters are invalid or the kind is unknown, then bad_source says which', async () => {
    await assert.rejects(ingestDataset({ kind: 'synthetic', difficulty: 3 }, { dataRoot: join(root, 'd') }),
      (err: unknown) => err instanceof IngestError && err.code === 'bad_source' && /difficulty/.test(err.message));
    await assert.rejects(ingestDataset({ kind: 'ftp' } as never, { dataRoot: join(root, 'd') }),
      (err: unknown) => err instanceof IngestError && /unknown ingest source kind "ftp"/.test(err.message));
  });

  it('when the signal aborts mid-generation, then it stops early', async () => {
    const ctl = new AbortController();
    const run = ingestDataset({ kind: 'synthetic', size: 4000, seed: 11 }, {
      dataRoot: join(root, 'e'),
      signal: ctl.signal,
      onProgress: (p) => p.phase === 'generate' && p.done >= 500 && ctl.abort(new Error('stop')),
    });
    await assert.rejects(run, /stop/);
  });
});
