import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { servingThreads } from '../../lib/onnx/classifier-session';
import { model } from '../../services/inference/testing/harness';

describe('model session threads', () => {
  it('when FEROPS_ORT_THREADS is set, then it is used as given; when automatic, a sub-millisecond model gets one thread', async () => {
    const session = await ort.InferenceSession.create(join(model('strips'), 'model.onnx'));
    try {
      assert.equal(await servingThreads(session, 3), 3);
      // The strips fixture runs in microseconds: automatic (0) means one intra-op thread on a multi-core host.
      assert.equal(await servingThreads(session, 0), require('node:os').availableParallelism() > 1 ? 1 : 0);
    } finally {
      await session.release();
    }
  });
});
