import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { REPO_ROOT } from '../../lib/paths';
import { type FeedbackRecord, FeedbackStore } from '../../services/inference/runtime/feedback-store';
import { RecentPredictions } from '../../services/inference/runtime/recent-predictions';
import type { RunningServer } from '../../services/inference/server';
import { postImage, startTestServer, tempDir } from '../../services/inference/testing/harness';

/** The feedback log and the answer memory behind /v1/feedback, bounded: start-up reading, appends, rotation, crops. */

const rec = (i: number, modelVersion = 'v1', correct = i % 2 === 0): FeedbackRecord => ({
  t: '2026-01-01T00:00:00.000Z', requestId: `req-${i}`, faceIndex: 0, modelVersion, slot: 'stable', predicted: 'happy', label: correct ? 'happy' : 'sad', correct,
});
const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as FeedbackRecord);

describe('feedback log: start-up reading', () => {
  it('when the log is ~55 MB, then start-up replays every line within a 24 MB heap', async () => {
    const path = join(tempDir('ferops-feedback-big-'), 'feedback.jsonl');
    const fd = openSync(path, 'w');
    const perWrite = 5000;
    for (let i = 0; i < 250_000; i += perWrite) {
      writeSync(fd, Array.from({ length: perWrite }, (_, k) => JSON.stringify({ ...rec(i + k, `v${(i + k) % 3}`), requestId: `req-${i + k}-${'x'.repeat(60)}` })).join('\n') + '\n');
    }
    closeSync(fd);
    assert.ok(statSync(path).size > 50e6);

    // A heap cap below the log's size: a reader that holds the file as one string cannot start at all.
    const script = `require(${JSON.stringify(join(REPO_ROOT, 'services/inference/runtime/feedback-store.ts'))}).FeedbackStore
      .open(process.argv[1], { maxBytes: 1e9 })
      .then((s) => console.log(JSON.stringify({ accuracy: Object.fromEntries(s.accuracy()), skipped: s.skipped.lines, heapMB: process.memoryUsage().heapUsed / 2 ** 20 })))`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--max-old-space-size=24', '--import', 'tsx', '-e', script, path], { cwd: REPO_ROOT });
    const out = JSON.parse(stdout);
    assert.deepEqual(out.accuracy, { v0: { total: 83334, correct: 41667 }, v1: { total: 83333, correct: 41666 }, v2: { total: 83333, correct: 41667 } });
    assert.equal(out.skipped, 0);
  });

  it('when a line is malformed, not a record, or a long run of zero bytes, then it is skipped, the rest is counted, and the next append starts a fresh line', async () => {
    const path = join(tempDir('ferops-feedback-torn-'), 'feedback.jsonl');
    writeFileSync(path, [JSON.stringify(rec(0)), '{"t":', 'null', '\0'.repeat(200_000), JSON.stringify(rec(1)), '\0'.repeat(100_000)].join('\n'));
    const s = await FeedbackStore.open(path, { maxBytes: 1 << 20 });
    assert.deepEqual(Object.fromEntries(s.accuracy()), { v1: { total: 2, correct: 1 } });
    assert.equal(s.skipped.lines, 4);
    assert.match(s.skipped.sample.join('\n'), /feedback\.jsonl:4: longer than 65536 bytes/);
    await s.append(rec(2));
    await s.close();
    const again = await FeedbackStore.open(path, { maxBytes: 1 << 20 });
    assert.deepEqual(Object.fromEntries(again.accuracy()), { v1: { total: 3, correct: 2 } }, 'the record after the torn tail survives a replay');
  });
});

describe('feedback log: appends', () => {
  it('when 50 appends are made at once, then none writes before the call returns, and all land whole, fsync\'d and in call order', async () => {
    const path = join(tempDir('ferops-feedback-append-'), 'feedback.jsonl');
    const s = await FeedbackStore.open(path, { maxBytes: 1 << 20 });
    const pending = Array.from({ length: 50 }, (_, i) => s.append(rec(i)));
    assert.equal(existsSync(path) ? statSync(path).size : 0, 0, 'the write and fsync run off the event loop, after the call');
    await Promise.all(pending);
    assert.deepEqual(lines(path).map((r) => r.requestId), Array.from({ length: 50 }, (_, i) => `req-${i}`));
    assert.deepEqual(Object.fromEntries(s.accuracy()), { v1: { total: 50, correct: 25 } });
    await s.close();
  });

  it('when appends pass the size cap, then the log rotates to one .1 file and accuracy spans both, before and after a restart', async () => {
    const dir = tempDir('ferops-feedback-rotate-');
    const path = join(dir, 'feedback.jsonl');
    const s = await FeedbackStore.open(path, { maxBytes: 1024 });
    for (let i = 0; i < 30; i++) await s.append(rec(i, i < 10 ? 'old' : 'new'));
    await s.close();
    assert.ok(statSync(path).size <= 1024 && statSync(`${path}.1`).size <= 1024);
    assert.equal(existsSync(`${path}.2`), false);
    const kept = [...lines(`${path}.1`), ...lines(path)];
    assert.deepEqual(kept.map((r) => r.requestId), Array.from({ length: kept.length }, (_, i) => `req-${30 - kept.length + i}`), 'the newest records, in order');
    const expected = new Map<string, { total: number; correct: number }>();
    for (const r of kept) {
      const a = expected.get(r.modelVersion) ?? { total: 0, correct: 0 };
      expected.set(r.modelVersion, { total: a.total + 1, correct: a.correct + Number(r.correct) });
    }
    assert.deepEqual(s.accuracy(), expected);
    assert.deepEqual((await FeedbackStore.open(path, { maxBytes: 1024 })).accuracy(), expected);
  });
});

describe('feedback on the service', () => {
  let crop: Buffer;
  before(async () => {
    crop = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#777' } }).png().toBuffer();
  });

  async function label(url: string): Promise<number> {
    const { json } = await postImage(url, crop, { query: 'detect=false' });
    const res = await fetch(`${url}/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requestId: json.requestId, faceIndex: 0, label: 'happy' }) });
    await res.arrayBuffer();
    return res.status;
  }

  describe('with FEROPS_FEEDBACK_MAX_BYTES=1024', () => {
    let server: RunningServer;
    let dir: string;
    before(async () => {
      dir = tempDir('ferops-feedback-service-rotate-');
      server = await startTestServer({ feedbackDir: dir, feedbackMaxBytes: 1024 });
    });
    after(() => server.stop());

    it('when labels pass the cap, then feedback.jsonl rotates to feedback.jsonl.1 and no further', async () => {
      for (let i = 0; i < 12; i++) assert.equal(await label(server.url), 201);
      assert.ok(existsSync(join(dir, 'feedback.jsonl.1')));
      assert.equal(existsSync(join(dir, 'feedback.jsonl.2')), false);
      assert.ok(statSync(join(dir, 'feedback.jsonl')).size <= 1024);
      assert.ok(statSync(join(dir, 'feedback.jsonl.1')).size <= 1024);
    });
  });

  it('when the log has malformed lines, then the service starts, warns once naming them, and counts the rest', async () => {
    const dir = tempDir('ferops-feedback-malformed-');
    writeFileSync(join(dir, 'feedback.jsonl'), [JSON.stringify(rec(0, 'v9')), 'this is not json', '[1,2]', JSON.stringify(rec(1, 'v9')), ''].join('\n'));
    const logged: any[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      const text = String(chunk);
      if (!text.startsWith('{"time"')) return write.call(process.stdout, chunk, ...rest);
      for (const l of text.split('\n').filter(Boolean)) logged.push(JSON.parse(l));
      return true;
    }) as typeof process.stdout.write;
    let server: RunningServer;
    try {
      server = await startTestServer({ feedbackDir: dir, logLevel: 'error' });
    } finally {
      process.stdout.write = write;
    }
    try {
      const warnings = logged.filter((l) => /feedback log/.test(l.msg));
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0].skipped, 2);
      assert.deepEqual(warnings[0].first.map((s: string) => s.split(':').slice(0, 2).join(':')), ['feedback.jsonl:2', 'feedback.jsonl:3']);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /ferops_feedback_accuracy\{version="v9"\} 0\.5/);
    } finally {
      await server.stop();
    }
  });
});

describe('remembered answers: crops bounded by bytes', () => {
  const crops = (n: number, fill = 1) => Array.from({ length: n }, () => new Uint8Array(48 * 48).fill(fill));

  it('when an answer has more faces than the per-answer cap holds, then the leading crops are kept and every face stays labellable', () => {
    const r = new RecentPredictions(10, 60_000, undefined, { perPrediction: 3 * 48 * 48, total: Infinity });
    r.remember('crowd', { modelVersion: '1', slot: 'stable', classes: new Array(40).fill(3), crops: crops(40) });
    assert.equal(r.get('crowd')?.crops?.length, 3);
    assert.equal(r.get('crowd')?.classes.length, 40);
    assert.equal(r.cropBytes, 3 * 48 * 48);
  });

  it('when all crops pass the total cap, then the oldest answers lose theirs first, and eviction and expiry give their bytes back', () => {
    let now = 0;
    const r = new RecentPredictions(3, 1000, () => now, { perPrediction: 2 * 48 * 48, total: 4 * 48 * 48 });
    for (const id of ['a', 'b', 'c']) r.remember(id, { modelVersion: '1', slot: 'stable', classes: [0, 1], crops: crops(2) });
    assert.equal(r.get('a')?.crops, undefined, 'the oldest lost its crops');
    assert.ok(r.get('a'), 'but is still remembered for its label');
    assert.equal(r.get('c')?.crops?.length, 2);
    assert.equal(r.cropBytes, 4 * 48 * 48);
    r.remember('d', { modelVersion: '1', slot: 'stable', classes: [0] });
    assert.equal(r.get('a'), undefined);
    now = 2000;
    r.remember('e', { modelVersion: '1', slot: 'stable', classes: [0] });
    assert.equal(r.cropBytes, 0);
  });
});
