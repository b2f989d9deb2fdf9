import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FeedbackStore, type FeedbackRecord } from '../../services/inference/runtime/feedback-store';
import { RecentPredictions } from '../../services/inference/runtime/recent-predictions';

// The two pieces behind /v1/feedback that the drift and accuracy numbers rest on: the bounded answer memory and
// the durable log.

const dir = mkdtempSync(join(tmpdir(), 'ferops-feedback-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const rec = (modelVersion: string, correct: boolean): FeedbackRecord => ({
  t: '2026-01-01T00:00:00Z', requestId: 'r', faceIndex: 0, modelVersion, slot: 'stable', predicted: 'happy', label: correct ? 'happy' : 'sad', correct,
});

describe('RecentPredictions', () => {
  test('when more answers arrive than fit, then the oldest are evicted first', () => {
    const r = new RecentPredictions(2, 60_000);
    for (const id of ['a', 'b', 'c']) r.remember(id, { modelVersion: '1', slot: 'stable', classes: [3] });
    assert.equal(r.get('a'), undefined);
    assert.equal(r.get('c')?.modelVersion, '1');
    assert.equal(r.size, 2);
  });
  test('when an answer is older than the TTL, then it is forgotten', () => {
    let now = 0;
    const r = new RecentPredictions(10, 1000, () => now);
    r.remember('a', { modelVersion: '1', slot: 'stable', classes: [] });
    now = 999;
    assert.ok(r.get('a'));
    now = 1001;
    assert.equal(r.get('a'), undefined);
  });
});

describe('FeedbackStore', () => {
  const open = (path: string) => FeedbackStore.open(path, { maxBytes: 1 << 20 });
  test('when records are appended, then each is one JSON line and accuracy is counted per version', async () => {
    const path = join(dir, 'a', 'feedback.jsonl');
    const s = await open(path);
    await s.append(rec('1', true));
    await s.append(rec('1', false));
    await s.append(rec('2', true));
    await s.close();
    assert.equal(readFileSync(path, 'utf8').trim().split('\n').length, 3);
    assert.deepEqual(Object.fromEntries(s.accuracy()), { 1: { total: 2, correct: 1 }, 2: { total: 1, correct: 1 } });
  });
  test('when the log ends with a torn line (crash mid-write), then replay skips it, keeps the rest, and the next append starts a fresh line', async () => {
    const path = join(dir, 'b', 'feedback.jsonl');
    const s = await open(path);
    await s.append(rec('3', true));
    await s.close();
    appendFileSync(path, '{"t":"2026","requestId":"x","modelVer');
    const reopened = await open(path);
    assert.deepEqual(Object.fromEntries(reopened.accuracy()), { 3: { total: 1, correct: 1 } });
    assert.equal(reopened.skipped.lines, 1);
    await reopened.append(rec('3', false));
    await reopened.close();
    assert.deepEqual(Object.fromEntries((await open(path)).accuracy()), { 3: { total: 2, correct: 1 } }, 'the next record survives a replay');
  });
});
