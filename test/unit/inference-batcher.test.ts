import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FACE_PIXELS } from '../../lib/preprocess';
import { Batcher } from '../../services/inference/runtime/batcher';

/** A fake model whose logits row for a face is [its first pixel, batch size]. */
function recorder() {
  const calls: number[] = [];
  const run = async (pixels: Float32Array, batch: number) => {
    calls.push(batch);
    return Array.from({ length: batch }, (_, i) => Float32Array.from([pixels[i * FACE_PIXELS], batch]));
  };
  return { calls, run };
}

const faces = (...ids: number[]) => {
  const out = new Float32Array(ids.length * FACE_PIXELS);
  ids.forEach((id, i) => (out[i * FACE_PIXELS] = id));
  return out;
};

describe('Batcher', () => {
  it('when requests arrive together, then they share one run and each gets its own rows back', async () => {
    const { calls, run } = recorder();
    const b = new Batcher(run, 16, 5);
    const [a, c, d] = await Promise.all([b.infer(faces(1), 1), b.infer(faces(2, 3), 2), b.infer(faces(4), 1)]);
    assert.deepEqual(calls, [4]);
    assert.deepEqual([...a[0]], [1, 4]);
    assert.deepEqual(c.map((r) => r[0]), [2, 3]);
    assert.deepEqual([...d[0]], [4, 4]);
  });

  it('when the queue would exceed the max batch, then it is flushed first and no run exceeds it', async () => {
    const { calls, run } = recorder();
    const b = new Batcher(run, 4, 50);
    await Promise.all([b.infer(faces(1, 2, 3), 3), b.infer(faces(4, 5), 2), b.infer(faces(6, 7), 2)]);
    assert.ok(calls.every((n) => n <= 4), `batches ${calls}`);
    assert.equal(calls.reduce((a, n) => a + n, 0), 7);
  });

  it('when one request alone fills a batch, then it runs at once without waiting', async () => {
    const { calls, run } = recorder();
    const b = new Batcher(run, 2, 10_000);
    const rows = await b.infer(faces(1, 2, 3), 3);
    assert.deepEqual(calls, [3]);
    assert.equal(rows.length, 3);
  });

  it('when the model fails on every input, then every request of that batch is rejected', async () => {
    const b = new Batcher(async () => {
      throw new Error('boom');
    }, 8, 1);
    const results = await Promise.allSettled([b.infer(faces(1), 1), b.infer(faces(2), 1)]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  });

  it('when one request poisons a shared batch, then only that request fails and its batch-mates succeed', async () => {
    const { calls, run } = recorder();
    const poisoned = async (pixels: Float32Array, batch: number) => {
      for (let i = 0; i < batch; i++) if (pixels[i * FACE_PIXELS] === 666) throw new Error('bad input');
      return run(pixels, batch);
    };
    const b = new Batcher(poisoned, 8, 5);
    const results = await Promise.allSettled([b.infer(faces(1), 1), b.infer(faces(666), 1), b.infer(faces(3, 4), 2)]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(calls, [1, 2], 'the retry ran the healthy requests alone');
  });

  it('when a lone request reaches an idle batcher, then it runs without waiting out waitMs', async () => {
    const { calls, run } = recorder();
    const b = new Batcher(run, 8, 600_000); // a fixed wait would time the test out
    const rows = await b.infer(faces(7), 1);
    assert.deepEqual(calls, [1]);
    assert.deepEqual([...rows[0]], [7, 1]);
  });

  it('when requests arrive while a run is in flight, then they go together as soon as it ends', async () => {
    const calls: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const run = async (pixels: Float32Array, batch: number) => {
      calls.push(batch);
      if (calls.length === 1) await gate;
      return Array.from({ length: batch }, (_, i) => Float32Array.from([pixels[i * FACE_PIXELS], batch]));
    };
    const b = new Batcher(run, 8, 600_000);
    const first = b.infer(faces(1), 1);
    await new Promise((r) => setImmediate(r)); // the first run has started and is held
    const later = [b.infer(faces(2), 1), b.infer(faces(3), 1)];
    release();
    await first;
    const [x, y] = await Promise.all(later);
    assert.deepEqual(calls, [1, 2]);
    assert.deepEqual([x[0][0], y[0][0]], [2, 3]);
  });

  it('when there are no faces, then no run happens', async () => {
    const { calls, run } = recorder();
    assert.deepEqual(await new Batcher(run, 8, 1).infer(new Float32Array(0), 0), []);
    assert.deepEqual(calls, []);
  });
});
