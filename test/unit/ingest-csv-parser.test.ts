import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Collected, SampleCollector } from '../../activities/ingest/collector';
import { IngestError } from '../../activities/ingest/errors';
import { Fer2013CsvParser, hashSplit } from '../../activities/ingest/sources/fer2013-csv';
import { fer2013Csv, goodRows, noiseFace } from '../fixtures/ingest/faces';

/** Feeds `text` in pieces of `chunk` bytes, so every state must survive a chunk boundary. */
function parse(text: string, chunk = 1 << 20): Collected {
  const collector = new SampleCollector();
  const parser = new Fer2013CsvParser(collector, 'test.csv');
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += chunk) {
    const piece = bytes.subarray(i, i + chunk);
    parser.push(piece, piece.length);
  }
  parser.end();
  return collector.finish();
}

const px = (seed: number): string => Array.from(noiseFace(seed)).join(' ');

describe('FER2013 CSV parser', () => {
  it('when rows carry Usage, then Training/PublicTest/PrivateTest go to train/val/test with exact pixels', () => {
    const rows = goodRows({ train: 3, val: 2, test: 2 });
    const out = parse(fer2013Csv(rows));
    assert.deepEqual([out.splits.train.count, out.splits.val.count, out.splits.test.count], [3, 2, 2]);
    assert.deepEqual(out.splits.val.images.subarray(0, 2304), noiseFace(3));
    assert.deepEqual(Array.from(out.splits.test.labels), [5, 6]);
    assert.equal(out.rejected.total, 0);
  });

  it('when the input is cut into 7-byte chunks with CRLF endings and no final newline, then the result is identical', () => {
    const text = fer2013Csv(goodRows({ train: 3, val: 1, test: 1 }), { eol: '\r\n', trailingEol: false });
    const whole = parse(text);
    const pieces = parse(text, 7);
    assert.deepEqual(pieces.splits, whole.splits);
    assert.equal(pieces.splits.train.count, 3);
    assert.equal(pieces.rejected.total, 0);
  });

  it('when every kind of bad row appears, then each is rejected with its reason and line number', () => {
    const good = goodRows({ train: 1, val: 0, test: 0 });
    const text = fer2013Csv([
      ...good, // line 2
      { emotion: 3, pixels: px(10).split(' ').slice(1).join(' ') }, // line 3: 2303 values
      { emotion: 3, pixels: px(11).replace(/^\d+/, 'x7') }, // line 4: non-numeric pixel
      { emotion: 3, pixels: px(12).replace(/^\d+/, '256') }, // line 5: out of range
      { emotion: 9, pixels: px(13) }, // line 6: label out of range
      { emotion: 'happy', pixels: px(14) }, // line 7: non-numeric label
      { emotion: 2, pixels: px(15), usage: 'Holdout' }, // line 8: unknown usage
      { emotion: 2, pixels: px(0), usage: 'PrivateTest' }, // line 9: duplicate of line 2 in another split
      { emotion: 1, pixels: `${px(16)},extra` }, // line 10: wrong column count
      { emotion: 4, pixels: `${px(17)} 1` }, // line 11: 2305 values
      { emotion: 4, pixels: px(18).replace(/^\d+/, '-3') }, // line 12: negative
    ]);
    const { rejected, accepted } = parse(text);
    assert.equal(accepted, 1);
    assert.deepEqual(rejected.byReason, {
      wrong_pixel_count: 2, non_numeric: 3, pixel_out_of_range: 1, label_out_of_range: 1, unknown_usage: 1,
      duplicate_across_splits: 1, wrong_column_count: 1,
    });
    const where = Object.fromEntries(rejected.rows.map((r) => [r.where, r.reason.split(':')[0]]));
    assert.deepEqual(where, {
      'line 3': 'wrong_pixel_count', 'line 4': 'non_numeric', 'line 5': 'pixel_out_of_range', 'line 6': 'label_out_of_range',
      'line 7': 'non_numeric', 'line 8': 'unknown_usage', 'line 9': 'duplicate_across_splits', 'line 10': 'wrong_column_count',
      'line 11': 'wrong_pixel_count', 'line 12': 'non_numeric',
    });
  });

  it('when there is no Usage column, then the split follows the content hash and ignores row order', () => {
    const rows = goodRows({ train: 60, val: 0, test: 0 });
    const a = parse(fer2013Csv(rows, { usage: false }));
    const b = parse(fer2013Csv([...rows].reverse(), { usage: false }));
    for (const s of ['train', 'val', 'test'] as const) assert.equal(a.splits[s].count, b.splits[s].count);
    assert.equal(a.splits.train.count + a.splits.val.count + a.splits.test.count, 60);
    assert.ok(a.splits.train.count > a.splits.test.count);
    assert.equal(hashSplit(noiseFace(5)), hashSplit(Uint8Array.from(noiseFace(5))));
  });

  it('when columns come in another order and are quoted, then they are found by name', () => {
    const text = `"Usage","pixels","emotion"\n"PublicTest","${px(1)}","4"\n`;
    const out = parse(text);
    assert.equal(out.splits.val.count, 1);
    assert.equal(out.splits.val.labels[0], 4);
  });

  it('when blank lines appear, then they are not rows', () => {
    const out = parse(`emotion,pixels,Usage\n\n0,${px(1)},Training\n\n`);
    assert.equal(out.accepted, 1);
    assert.equal(out.rejected.total, 0);
  });

  it('when the header lacks emotion or pixels, or the file is empty, then a non-retryable bad_source says so', () => {
    const isBadSource = (pattern: RegExp) => (err: unknown) =>
      err instanceof IngestError && err.code === 'bad_source' && err.nonRetryable && pattern.test(err.message);
    assert.throws(() => parse('label,image\n1,2 3\n'), isBadSource(/needs "emotion" and "pixels"/));
    assert.throws(() => parse(''), isBadSource(/empty/));
  });
});
