import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FACE_PIXELS } from '../../lib/preprocess';
import { INLINE_MAX_BATCH, loadModel } from '../../services/inference/runtime/model';
import type { SessionWorker } from '../../services/inference/runtime/session-worker';
import { model } from '../../services/inference/testing/harness';

const OPTS = { threads: 0, batchMax: 64, batchWaitMs: 0, variant: 'fp32' as const };
const faces = (n: number) => {
  const px = new Float32Array(n * FACE_PIXELS);
  for (let i = 0; i < px.length; i++) px[i] = ((i * 7919) % 997) / 997;
  return px;
};
/** The model's inference-thread handle (private; reached here to kill the thread as a crash would). */
const threadOf = (m: object) => (m as { worker: Promise<SessionWorker> }).worker;

describe('model inference thread', () => {
  it('when a batch is large enough for the inference thread, then its logits equal the same faces run one by one', async () => {
    const m = await loadModel(model('strips'), { version: 't1', source: 'test' }, OPTS);
    try {
      const n = INLINE_MAX_BATCH + 4;
      const px = faces(n);
      const together = await m.infer(px, n); // one batch: the inference thread
      for (let i = 0; i < n; i++) {
        const [alone] = await m.infer(px.slice(i * FACE_PIXELS, (i + 1) * FACE_PIXELS), 1); // inline (small model)
        assert.deepEqual(Array.from(alone), Array.from(together[i]), `face ${i}`);
      }
    } finally {
      m.retire();
    }
  });

  it('when a batch fails on the inference thread, then its caller gets the error and the thread keeps serving', async () => {
    const m = await loadModel(model('fails-on-bright'), { version: 't4', source: 'test' }, OPTS);
    try {
      const n = INLINE_MAX_BATCH;
      await assert.rejects(m.infer(new Float32Array(n * FACE_PIXELS).fill(1), n));
      assert.equal((await m.infer(faces(n).map((x) => x * 0.1), n)).length, n);
    } finally {
      m.retire();
    }
  });

  it('when the inference thread has died, then the next batch runs on a new one', async () => {
    const m = await loadModel(model('strips'), { version: 't2', source: 'test' }, OPTS);
    try {
      const n = INLINE_MAX_BATCH;
      const first = await threadOf(m);
      await first.release(); // the thread exits, as if it had crashed
      assert.equal(first.isDead, true);
      const rows = await m.infer(faces(n), n);
      assert.equal(rows.length, n);
      assert.notEqual(await threadOf(m), first, 'a new thread');
    } finally {
      m.retire();
    }
  });

  it('when a retired model finishes its last request, then its inference thread exits', async () => {
    const m = await loadModel(model('strips'), { version: 't3', source: 'test' }, OPTS);
    const thread = await threadOf(m);
    m.acquire();
    const pending = m.infer(faces(INLINE_MAX_BATCH), INLINE_MAX_BATCH);
    m.retire();
    assert.equal(thread.isDead, false, 'a request still holds the model');
    assert.equal((await pending).length, INLINE_MAX_BATCH);
    m.release();
    for (let i = 0; i < 50 && !thread.isDead; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(thread.isDead, true);
  });
});
