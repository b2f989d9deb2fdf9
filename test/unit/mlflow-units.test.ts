import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BATCH_LIMITS, MlflowError, MlflowUnavailableError, proxyPath, splitBatch } from '../../lib/mlflow';
import { backoffDelay, isRetryable, resolveRetry, withRetry } from '../../lib/mlflow/retry';
import { applyGate } from '../../activities/register/gate';
import { lockedVersions, mlmodelYaml } from '../../activities/register/mlmodel';
import { filterLiteral } from '../../activities/tracking';

const metric = (i: number) => ({ key: 'm', value: i, timestamp: 0, step: i });

describe('splitBatch', () => {
  it('when a batch exceeds the count limits, then every request respects them and nothing is lost', () => {
    const parts = splitBatch({
      metrics: Array.from({ length: 2500 }, (_, i) => metric(i)),
      params: Array.from({ length: 250 }, (_, i) => ({ key: `p${i}`, value: 'v' })),
      tags: Array.from({ length: 120 }, (_, i) => ({ key: `t${i}`, value: 'v' })),
    });
    for (const p of parts) {
      assert.ok(p.metrics.length <= BATCH_LIMITS.metrics && p.params.length <= BATCH_LIMITS.params && p.tags.length <= BATCH_LIMITS.tags);
      assert.ok(p.metrics.length + p.params.length + p.tags.length <= BATCH_LIMITS.items);
    }
    assert.equal(parts.reduce((n, p) => n + p.metrics.length, 0), 2500);
    assert.equal(parts.reduce((n, p) => n + p.params.length, 0), 250);
    assert.deepEqual(parts.flatMap((p) => p.metrics.map((m) => m.step)), Array.from({ length: 2500 }, (_, i) => i));
  });

  it('when values are large, then each request stays under 1 MB', () => {
    const big = 'x'.repeat(5000);
    const parts = splitBatch({ tags: Array.from({ length: 99 }, (_, i) => ({ key: `t${i}`, value: big })), params: Array.from({ length: 99 }, (_, i) => ({ key: `p${i}`, value: big })) }, { ...BATCH_LIMITS, bytes: 600_000 });
    assert.ok(parts.length >= 2);
    for (const p of parts) assert.ok(Buffer.byteLength(JSON.stringify(p)) < 600_000);
  });

  it('when nothing is given, then no request is made', () => {
    assert.deepEqual(splitBatch({}), []);
  });
});

describe('retry policy', () => {
  it('when classifying errors, then connection errors and 5xx retry and 4xx do not', () => {
    assert.equal(isRetryable(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), true);
    assert.equal(isRetryable(new MlflowError(503, 'TEMPORARILY_UNAVAILABLE', 'x')), true);
    assert.equal(isRetryable(new MlflowError(400, 'INVALID_PARAMETER_VALUE', 'x')), false);
    assert.equal(isRetryable(new MlflowError(404, 'RESOURCE_DOES_NOT_EXIST', 'x')), false);
  });

  it('when backing off, then delays grow but stay under the cap', () => {
    const o = resolveRetry({ baseDelayMs: 100, maxDelayMs: 1000 });
    assert.equal(backoffDelay(0, o, () => 1), 100);
    assert.equal(backoffDelay(3, o, () => 1), 800);
    assert.equal(backoffDelay(10, o, () => 1), 1000);
    assert.equal(backoffDelay(10, o, () => 0), 50);
  });

  it('when a call fails twice then succeeds, then withRetry returns its value; a 4xx stops at once', async () => {
    let n = 0;
    const o = resolveRetry({ baseDelayMs: 1, maxDelayMs: 2 });
    assert.equal(await withRetry('t', o, async () => (++n < 3 ? Promise.reject(new Error('reset')) : 'ok')), 'ok');
    assert.equal(n, 3);
    n = 0;
    await assert.rejects(withRetry('t', o, async () => { n++; throw new MlflowError(400, 'BAD', 'no'); }), MlflowError);
    assert.equal(n, 1);
    await assert.rejects(withRetry('t', resolveRetry({ attempts: 2, baseDelayMs: 1 }), async () => { throw new Error('down'); }), (e: unknown) => e instanceof MlflowUnavailableError && e.attempts === 2);
  });
});

describe('artifact URIs and filters', () => {
  it('when mapping artifact URIs, then host and scheme go and unsafe ones are refused', () => {
    assert.equal(proxyPath('mlflow-artifacts:/1/abc/artifacts'), '1/abc/artifacts');
    assert.equal(proxyPath('mlflow-artifacts://127.0.0.1:5000/1/abc/artifacts/'), '1/abc/artifacts');
    assert.throws(() => proxyPath('file:///tmp/mlruns/1'), /artifact proxy/);
    assert.throws(() => proxyPath('mlflow-artifacts:/1/../2'), /\.\./);
  });

  it('when quoting filter values, then the missing quote character is used', () => {
    assert.equal(filterLiteral('wf-1'), "'wf-1'");
    assert.equal(filterLiteral("it's"), '"it\'s"');
    assert.throws(() => filterLiteral(`'"`), /both quote/);
  });
});

describe('registration gate', () => {
  const gate = { minAccuracy: 0.6, maxDropVsChampion: 0.02 };
  it('when below the floor, then refused with the numbers', () => {
    const r = applyGate(0.55, gate);
    assert.equal(r.pass, false);
    assert.match(r.reason, /below the floor/);
  });
  it('when worse than the champion beyond the tolerance, then refused; within it (or exactly at it), passed', () => {
    assert.equal(applyGate(0.7, gate, { accuracy: 0.75 }).pass, false);
    assert.equal(applyGate(0.73, gate, { accuracy: 0.75 }).pass, true);
    assert.equal(applyGate(0.74, gate, { accuracy: 0.75 }).pass, true);
    assert.equal(applyGate(0.8, gate).pass, true);
  });
  it('when the test split is small, then the floor is judged on what it can show', () => {
    // 66 % on 50 faces: at 95 % confidence only ~54 %, below a 60 % floor; the same rate on 2,000 faces clears it.
    const small = applyGate(0.66, gate, undefined, 50);
    assert.equal(small.pass, false);
    assert.match(small.reason, /on 50 test faces is, at 95 % confidence, only at least 54\.\d+%/);
    assert.equal(applyGate(0.66, gate, undefined, 2000).pass, true);
    assert.ok(applyGate(0.66, gate, undefined, 2000).numbers.accuracyLowerBound! > 0.6);
  });
  it('when a number is outside [0, 1], then it throws', () => {
    assert.throws(() => applyGate(75, gate), /accuracy/);
    assert.throws(() => applyGate(0.7, { minAccuracy: Number.NaN, maxDropVsChampion: 0 }), /minAccuracy/);
  });
});

describe('MLmodel', () => {
  it('when written, then it has onnx + pyfunc flavours, CPU providers and the pixels/logits signature', () => {
    const versions = { python: '3.11.7', mlflow: '3.17.2', onnx: '1.23.2', onnxruntime: '1.32.0', numpy: '2.4.6' };
    const y = mlmodelYaml({ versions, modelId: 'm-1', runId: 'r1', artifactPath: 'model' });
    assert.match(y, /loader_module: mlflow\.onnx/);
    assert.match(y, /providers:\n    - CPUExecutionProvider/);
    assert.match(y, /"name": ?"pixels"/);
    assert.ok(y.includes('"shape":[-1,1,48,48]') && y.includes('"shape":[-1,7]'));
    assert.match(y, /model_id: m-1/);
  });

  it('when the lock file pins the packages, then lockedVersions reads them; a missing pin is an error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferops-'));
    try {
      writeFileSync(join(dir, 'lock'), 'mlflow==3.1.0 \\\n    --hash=sha256:x\nonnx==1.2\nonnxruntime==1.3\nnumpy==2.0\n');
      writeFileSync(join(dir, 'pyvenv.cfg'), 'home = /usr\nversion = 3.11.9\n');
      assert.deepEqual(lockedVersions(join(dir, 'lock'), dir), { python: '3.11.9', mlflow: '3.1.0', onnx: '1.2', onnxruntime: '1.3', numpy: '2.0' });
      writeFileSync(join(dir, 'lock'), 'numpy==2.0\n');
      assert.throws(() => lockedVersions(join(dir, 'lock'), dir), /pins no mlflow/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
