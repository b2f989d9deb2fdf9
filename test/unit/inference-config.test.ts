import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
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
    assert.equal(c.faceDetector, 'blazeface');
    assert.match(c.faceDetectorModel, /face-detector\/blazeface_back\.onnx$/);
    // Each CNN's net is its own file: choosing the Tiny Face Detector without naming a file finds its net.
    assert.match(loadConfig({ faceDetector: 'cnn' }, {}).faceDetectorModel, /face-detector\/tiny_face_detector\.onnx$/);
    assert.equal(c.detectMaxSide, 512);
    assert.equal(c.detectMinScore, 0.25);
    assert.deepEqual(c.detectAngles, [0, -20, 20]);
    assert.deepEqual(c.detectTilts, []);
    assert.match(c.cascadeDir, /lib\/python3\.\d+\/site-packages\/cv2\/data$/);
  });

  it('when env keys are set, then they are parsed and overrides win over them', () => {
    const env = { FEROPS_INFERENCE_PORT: '9000', FEROPS_MODEL_DIRS: '/a:/b/', FEROPS_MODEL_VARIANT: 'int8', FEROPS_BATCH_WAIT_MS: '0.5', FEROPS_DETECT_ANGLES: ' 0, 15 ', FEROPS_FACE_DETECTOR: 'haar', FEROPS_DETECT_MIN_SCORE: '0.6', FEROPS_DETECT_TILTS: '-35, 35' };
    const c = loadConfig({ port: 0 }, env);
    assert.equal(c.port, 0);
    assert.deepEqual(c.modelDirs, ['/a', '/b']);
    assert.equal(c.modelVariant, 'int8');
    assert.equal(c.batchWaitMs, 0.5);
    assert.deepEqual(c.detectAngles, [0, 15]);
    assert.deepEqual(c.detectTilts, [-35, 35]);
    assert.equal(c.faceDetector, 'haar');
    assert.equal(c.detectMinScore, 0.6);
  });

  it('when no worker count is set, then at least two face workers are the default, so a small-face search can run beside the detector', () => {
    const cores = availableParallelism();
    assert.equal(loadConfig({}, {}).cvWorkers, Math.max(2, Math.min(4, cores - 1)));
    assert.equal(loadConfig({}, { FEROPS_DETECT_MIN_FACE: '24' }).cvWorkers, Math.max(2, Math.min(4, cores - 1)));
    assert.equal(loadConfig({}, { FEROPS_DETECT_MIN_FACE: '24', FEROPS_CV_WORKERS: '1' }).cvWorkers, 1, 'an explicit count wins');
    assert.equal(loadConfig({}, { FEROPS_CV_WORKERS: '0' }).cvWorkers, 0, '0 (in-process) stays possible');
  });

  it('when values are invalid, then one error names every bad environment key', () => {
    const env = { FEROPS_INFERENCE_PORT: '70000', FEROPS_MODEL_VARIANT: 'fp16', FEROPS_ADMIN_TOKEN: 'short', FEROPS_DETECT_ANGLES: '0,x', FEROPS_FACE_DETECTOR: 'dlib', FEROPS_DETECT_MIN_SCORE: '1.5', FEROPS_DETECT_TILTS: '120' };
    assert.throws(() => loadConfig({}, env), (err: Error) => {
      assert.match(err.message, /FEROPS_INFERENCE_PORT/);
      assert.match(err.message, /FEROPS_DETECT_TILTS/);
      assert.match(err.message, /FEROPS_MODEL_VARIANT/);
      assert.match(err.message, /FEROPS_DETECT_ANGLES/);
      assert.match(err.message, /FEROPS_FACE_DETECTOR/);
      assert.match(err.message, /FEROPS_DETECT_MIN_SCORE/);
      assert.match(err.message, /FEROPS_ADMIN_TOKEN: FEROPS_ADMIN_TOKEN must be at least 16/);
      assert.doesNotMatch(err.message, /short/, 'the token value itself is never echoed');
      return true;
    });
  });

  it('when the admission, proxy and feedback keys are unset, then their documented defaults apply', () => {
    const c = loadConfig({}, {});
    assert.equal(c.maxInflight, 64);
    assert.equal(c.maxBufferedBytes, 256 * 1024 * 1024);
    assert.deepEqual(c.trustedProxies, []);
    assert.equal(c.feedbackRateLimitRps, 0);
    assert.equal(c.adminRateLimitRps, 0);
    assert.equal(c.feedbackMaxBytes, 64 * 1024 * 1024);
    assert.equal(c.feedbackCropsTrainable, false);
    assert.equal(c.recentCropBytes, 8 * 48 * 48);
    assert.equal(c.recentCropsTotalBytes, 64 * 1024 * 1024);
  });

  it('when the admission, proxy and feedback keys are set, then they are parsed', () => {
    const env = {
      FEROPS_MAX_INFLIGHT: '8',
      FEROPS_MAX_BUFFERED_BYTES: '1048576',
      FEROPS_TRUSTED_PROXIES: ' 10.0.0.0/8, 127.0.0.1 ,fd00::/8,::1',
      FEROPS_FEEDBACK_RATE_LIMIT_RPS: '2',
      FEROPS_ADMIN_RATE_LIMIT_RPS: '0.5',
      FEROPS_FEEDBACK_MAX_BYTES: '4096',
      FEROPS_FEEDBACK_CROPS_TRAINABLE: 'true',
      FEROPS_RECENT_CROP_BYTES: '2304',
      FEROPS_RECENT_CROPS_TOTAL_BYTES: '0',
    };
    const c = loadConfig({}, env);
    assert.deepEqual(
      [c.maxInflight, c.maxBufferedBytes, c.feedbackRateLimitRps, c.adminRateLimitRps, c.feedbackMaxBytes, c.feedbackCropsTrainable, c.recentCropBytes, c.recentCropsTotalBytes],
      [8, 1048576, 2, 0.5, 4096, true, 2304, 0],
    );
    assert.deepEqual(c.trustedProxies, ['10.0.0.0/8', '127.0.0.1', 'fd00::/8', '::1']);
  });

  it('when a trusted proxy or a limit is not valid, then the error names the key and the bad entry', () => {
    const env = { FEROPS_TRUSTED_PROXIES: '10.0.0.0/8,example.com,10.0.0.0/33', FEROPS_MAX_INFLIGHT: '0', FEROPS_MAX_BUFFERED_BYTES: 'lots' };
    assert.throws(() => loadConfig({}, env), (err: Error) => {
      assert.match(err.message, /FEROPS_TRUSTED_PROXIES: not an IP address or CIDR: example\.com, 10\.0\.0\.0\/33/);
      assert.match(err.message, /FEROPS_MAX_INFLIGHT/);
      assert.match(err.message, /FEROPS_MAX_BUFFERED_BYTES/);
      return true;
    });
  });
});
