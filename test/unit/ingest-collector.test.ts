import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SampleCollector } from '../../activities/ingest/collector';
import { IngestError } from '../../activities/ingest/errors';
import { checkRejectRatio } from '../../activities/ingest/validate';
import { noiseFace } from '../fixtures/ingest/faces';

describe('sample collector', () => {
  it('when the same face appears in a later split, then the later one is rejected and the first kept', () => {
    const c = new SampleCollector();
    assert.equal(c.add('train', 1, noiseFace(1), 'line 2'), true);
    assert.equal(c.add('test', 1, noiseFace(1), 'line 9'), false);
    const out = c.finish();
    assert.equal(out.splits.train.count, 1);
    assert.equal(out.splits.test.count, 0);
    assert.equal(out.rejected.byReason.duplicate_across_splits, 1);
    assert.match(out.rejected.rows[0].reason, /same pixels as line 2 \(train\)/);
    assert.equal(out.rejected.rows[0].where, 'line 9');
  });

  it('when the same face appears twice in one split, then both are kept', () => {
    const c = new SampleCollector();
    c.add('train', 0, noiseFace(3), 'a');
    c.add('train', 0, noiseFace(3), 'b');
    assert.equal(c.finish().splits.train.count, 2);
  });

  it('when faces have a bad label or size, then they are rejected with that reason', () => {
    const c = new SampleCollector();
    c.add('train', 7, noiseFace(1), 'x');
    c.add('train', 0, new Uint8Array(10), 'y');
    assert.deepEqual(c.finish().rejected.byReason, { label_out_of_range: 1, wrong_pixel_count: 1 });
  });

  it('when more than 1024 faces arrive, then the buffers grow and keep every byte', () => {
    const c = new SampleCollector();
    for (let i = 0; i < 1500; i++) c.add('val', i % 7, noiseFace(i), `r${i}`);
    const val = c.finish().splits.val;
    assert.equal(val.count, 1500);
    assert.deepEqual(val.images.subarray(1499 * 2304, 1500 * 2304), noiseFace(1499));
    assert.equal(val.labels[1499], 1499 % 7);
  });

  it('when more than 200 rows are rejected, then all are counted but only 200 listed', () => {
    const c = new SampleCollector();
    for (let i = 0; i < 250; i++) c.reject(`line ${i}`, 'non_numeric');
    const { rejected } = c.finish();
    assert.equal(rejected.total, 250);
    assert.equal(rejected.rows.length, 200);
  });
});

describe('reject ratio', () => {
  const rejected = { total: 6, byReason: { non_numeric: 6 }, rows: [{ where: 'line 4', reason: 'non_numeric' }] };

  it('when the share of rejects is above the limit, then a non-retryable too_many_rejects names example rows', () => {
    assert.throws(() => checkRejectRatio(rejected, 94, 0.05), (err: unknown) => {
      assert.ok(err instanceof IngestError);
      assert.equal(err.code, 'too_many_rejects');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /6 of 100 rows/);
      assert.match(err.message, /line 4 \(non_numeric\)/);
      return true;
    });
  });

  it('when the share is at the limit, then it passes', () => {
    checkRejectRatio({ ...rejected, total: 5 }, 95, 0.05);
  });
});
