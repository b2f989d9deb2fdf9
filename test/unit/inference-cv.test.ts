import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cv, liveMats, withMats } from '../../services/inference/runtime/cv';

describe('withMats', () => {
  it('when the callback returns, then every tracked Mat is deleted', () => {
    const c = cv();
    let mat: { isDeleted(): boolean } | undefined;
    const sum = withMats((track) => {
      const m = track(new c.Mat(4, 4, c.CV_8UC1, new c.Scalar(2)));
      mat = m;
      assert.equal(liveMats(), 1);
      return (m.data as Uint8Array).reduce((a: number, b: number) => a + b, 0);
    });
    assert.equal(sum, 32);
    assert.equal(liveMats(), 0);
    assert.equal(mat!.isDeleted(), true);
  });

  it('when the callback throws (even an opencv error), then the Mats are still deleted and the error surfaces', () => {
    const c = cv();
    assert.throws(() =>
      withMats((track) => {
        const a = track(new c.Mat(4, 4, c.CV_8UC1));
        const b = track(new c.Mat(5, 5, c.CV_8UC1));
        track(new c.Mat());
        c.add(a, b, new c.Mat()); // size mismatch: opencv throws
      }),
    );
    assert.equal(liveMats(), 0);
  });

  it('when opencv-wasm is loaded, then it has not left its abort-on-unhandledRejection hook behind', () => {
    cv();
    const sources = process.listeners('unhandledRejection').map(String);
    assert.ok(!sources.some((s) => s.startsWith('function abort')), 'emscripten abort() is still a listener');
  });
});
