import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../services/inference/config';

describe('inference config', () => {
  it('when the environment is empty, then the documented defaults apply', () => {
    const c = loadConfig({}, { FEROPS_DATA_DIR: '/srv/ferops' });
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8080);
    assert.equal(c.adminToken, undefined);
    assert.equal(c.mlflowUrl, 'http://127.0.0.1:5000');
    assert.equal(c.modelCacheDir, '/srv/ferops/model-cache');
    assert.deepEqual(c.modelDirs, ['/srv/ferops']);
    assert.equal(c.maxBodyBytes, 10 * 1024 * 1024);
    assert.equal(c.maxPixels, 40_000_000);
    assert.equal(c.batchMax, 16);
    assert.equal(c.batchWaitMs, 2);
    assert.equal(c.modelVariant, 'fp32');
    assert.equal(c.rateLimitRps, 0);
    assert.equal(c.faceDetector, 'cnn');
    assert.match(c.faceDetectorModel, /face-detector\/tiny_face_detector\.onnx$/);
    assert.equal(c.detectMaxSide, 512);
    assert.equal(c.detectMinScore, 0.25);
    assert.deepEqual(c.detectAngles, [0, -20, 20]);
    assert.match(c.cascadeDir, /lib\/python3\.\d+\/site-packages\/cv2\/data$/);
  });

  it('when env keys are set, then they are parsed and overrides win over them', () => {
    const env = { FEROPS_INFERENCE_PORT: '9000', FEROPS_MODEL_DIRS: '/a:/b/', FEROPS_MODEL_VARIANT: 'int8', FEROPS_BATCH_WAIT_MS: '0.5', FEROPS_DETECT_ANGLES: ' 0, 15 ', FEROPS_FACE_DETECTOR: 'haar', FEROPS_DETECT_MIN_SCORE: '0.6' };
    const c = loadConfig({ port: 0 }, env);
    assert.equal(c.port, 0);
    assert.deepEqual(c.modelDirs, ['/a', '/b']);
    assert.equal(c.modelVariant, 'int8');
    assert.equal(c.batchWaitMs, 0.5);
    assert.deepEqual(c.detectAngles, [0, 15]);
    assert.equal(c.faceDetector, 'haar');
    assert.equal(c.detectMinScore, 0.6);
  });

  it('when values are invalid, then one error names every bad environment key', () => {
    const env = { FEROPS_INFERENCE_PORT: '70000', FEROPS_MODEL_VARIANT: 'fp16', FEROPS_ADMIN_TOKEN: 'short', FEROPS_DETECT_ANGLES: '0,x', FEROPS_FACE_DETECTOR: 'dlib', FEROPS_DETECT_MIN_SCORE: '1.5' };
    assert.throws(() => loadConfig({}, env), (err: Error) => {
      assert.match(err.message, /FEROPS_INFERENCE_PORT/);
      assert.match(err.message, /FEROPS_MODEL_VARIANT/);
      assert.match(err.message, /FEROPS_DETECT_ANGLES/);
      assert.match(err.message, /FEROPS_FACE_DETECTOR/);
      assert.match(err.message, /FEROPS_DETECT_MIN_SCORE/);
      assert.match(err.message, /FEROPS_ADMIN_TOKEN: FEROPS_ADMIN_TOKEN must be at least 16/);
      assert.doesNotMatch(err.message, /short/, 'the token value itself is never echoed');
      return true;
    });
  });
});
