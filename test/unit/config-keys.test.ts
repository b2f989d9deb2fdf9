import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig as loadWorkerConfig, workflowUiUrl } from '../../lib/config';
import { REPO_ROOT } from '../../lib/paths';
import { loadConfig as loadInferenceConfig } from '../../services/inference/config';

const inference = (env: NodeJS.ProcessEnv) => loadInferenceConfig({}, env);
const worker = (env: NodeJS.ProcessEnv) => loadWorkerConfig(env);
const both = [['worker', worker], ['inference', inference]] as const;

describe('keys both configurations read (lib/config-keys.ts)', () => {
  it('when FEROPS_ADMIN_TOKEN is shorter than 16 characters, then both refuse it and name the key', () => {
    for (const [side, load] of both) {
      assert.throws(() => load({ FEROPS_ADMIN_TOKEN: 'short' }), /FEROPS_ADMIN_TOKEN must be at least 16 characters/, side);
    }
  });

  it('when FEROPS_ADMIN_TOKEN is unset or empty, then both read it as no token', () => {
    for (const [side, load] of both) {
      assert.equal(load({}).adminToken, undefined, side);
      assert.equal(load({ FEROPS_ADMIN_TOKEN: '' }).adminToken, undefined, side);
      assert.equal(load({ FEROPS_ADMIN_TOKEN: 'x'.repeat(16) }).adminToken, 'x'.repeat(16), side);
    }
  });

  it('when shared keys are unset or empty, then both apply the same defaults', () => {
    for (const env of [{}, { FEROPS_MLFLOW_URL: '', FEROPS_MODEL_NAME: '' }]) {
      for (const [side, load] of both) {
        const c = load(env);
        assert.equal(c.mlflowUrl, 'http://127.0.0.1:5000', side);
        assert.equal(c.modelName, 'ferops-fer', side);
      }
    }
  });

  it('when FEROPS_MODEL_NAME or FEROPS_MLFLOW_URL is malformed, then both refuse it', () => {
    for (const [side, load] of both) {
      assert.throws(() => load({ FEROPS_MODEL_NAME: 'my model' }), /letters, digits/, side);
      assert.throws(() => load({ FEROPS_MLFLOW_URL: 'not a url' }), /Invalid url/, side);
      assert.throws(() => load({ FEROPS_TEMPORAL_UI_URL: 'nowhere' }), /Invalid url/, side);
    }
  });

  it('when FEROPS_INFERENCE_DISCOVERY is malformed, then both refuse it and say what it looks like', () => {
    const token = { FEROPS_ADMIN_TOKEN: 'x'.repeat(16) };
    for (const [side, load] of both) {
      assert.throws(() => load({ ...token, FEROPS_INFERENCE_DISCOVERY: 'dns:replicas' }), /dns discovery looks like dns:<host>:<port>/, side);
      assert.throws(() => load({ ...token, FEROPS_INFERENCE_DISCOVERY: 'http://a:8080/admin' }), /is not a replica base URL/, side);
      assert.equal(load({ ...token, FEROPS_INFERENCE_DISCOVERY: 'dns:inference:8080' }).inferenceDiscovery, 'dns:inference:8080', side);
    }
  });

  it('when FEROPS_DATA_DIR is relative, then both take it from the repository root', () => {
    assert.equal(worker({ FEROPS_DATA_DIR: 'state' }).dataDir, join(REPO_ROOT, 'state'));
    assert.equal(inference({ FEROPS_DATA_DIR: 'state' }).modelCacheDir, join(REPO_ROOT, 'state', 'model-cache'));
  });
});

describe('worker configuration (lib/config.ts)', () => {
  it('when FEROPS_TEMPORAL_UI_URL is unset, then the link is built from the UI port and namespace', () => {
    assert.equal(worker({ FEROPS_TEMPORAL_UI_PORT: '9233', FEROPS_TEMPORAL_NAMESPACE: 'ml' }).temporalUiUrl, 'http://127.0.0.1:9233/namespaces/ml');
    assert.equal(worker({ FEROPS_TEMPORAL_UI_URL: 'https://temporal.example/namespaces/ml' }).temporalUiUrl, 'https://temporal.example/namespaces/ml');
  });

  it('when a workflow link is built, then the id is escaped and a trailing slash on the UI URL does not double', () => {
    for (const ui of ['https://t.example/namespaces/ml', 'https://t.example/namespaces/ml/']) {
      assert.equal(workflowUiUrl(ui, 'pipe/1'), 'https://t.example/namespaces/ml/workflows/pipe%2F1');
    }
  });

  it('when a key is set to the empty string, then its default applies, as in the inference service', () => {
    const c = worker({ FEROPS_TEMPORAL_NAMESPACE: '', FEROPS_TASK_QUEUE: '' });
    assert.equal(c.temporalNamespace, 'default');
    assert.ok(c.taskQueue.length > 0);
  });

  it('when values are invalid, then the error names each bad key', () => {
    assert.throws(() => worker({ FEROPS_TEMPORAL_ADDRESS: 'no-port', FEROPS_TEMPORAL_UI_PORT: '70000' }), (err: Error) => {
      assert.match(err.message, /^invalid ferops configuration: /);
      assert.match(err.message, /temporalAddress: host:port/);
      assert.match(err.message, /temporalUiPort: /);
      return true;
    });
  });
});
