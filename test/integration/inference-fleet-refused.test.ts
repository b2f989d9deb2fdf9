import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ReplicaRefusedState, startInferenceFleet, type InferenceFleet } from '../../infra/inference-fleet';
import { freePort } from '../../infra/processes/managed-process';
import { desireStable } from '../helpers/following-service';
import { registerFixture, startMlflowFixture, unique, type MlflowFixture } from './mlflow-fixtures';

// The embedded stack's replicas (real processes) when the desired state names a version deleted from the registry,
// as an operator cleaning up the MLflow UI can do: `stack up` waited two minutes for them, then stopped the whole
// stack, so nothing could mend the deployment (`ferops deploy --now` needs Temporal and the worker).
let mlflow: MlflowFixture;
let fleet: InferenceFleet | undefined;
const dir = mkdtempSync(join(tmpdir(), 'ferops-fleet-refused-'));

before(async () => {
  mlflow = await startMlflowFixture();
});

after(async () => {
  await fleet?.stop();
  await mlflow?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('inference replicas started on a deployment the registry cannot serve', { timeout: 180_000 }, () => {
  it('when the stable version was deleted, then ready() says so within seconds, and resolves once another version is desired', async () => {
    const name = unique('refused');
    const deleted = await registerFixture(mlflow.client, name, name, 'strips');
    const other = await registerFixture(mlflow.client, name, name, 'strips');
    await desireStable(mlflow.server.url, name, deleted);
    await mlflow.client.http.json('DELETE', '/model-versions/delete', { body: { name, version: deleted } });

    fleet = await startInferenceFleet({
      count: 1, publicPort: await freePort(), dataDir: dir, logDir: dir,
      env: { ...process.env, FEROPS_DATA_DIR: dir, FEROPS_MLFLOW_URL: mlflow.server.url, FEROPS_MODEL_NAME: name, FEROPS_ADMIN_TOKEN: 'refused-test-token-0123456789' },
    });
    const started = Date.now();
    await assert.rejects(fleet.ready(1), (e: unknown) => {
      assert.ok(e instanceof ReplicaRefusedState, String(e));
      assert.match(e.message, new RegExp(`cannot serve generation 1 of the desired state: models:/${name}/${deleted}: not found in the registry`));
      return true;
    });
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms: it waited for the two-minute timeout`);

    await desireStable(mlflow.server.url, name, other);
    await fleet.ready(2);
    assert.equal(((await (await fetch(`${fleet.url}/readyz`)).json()) as { stableVersion?: string }).stableVersion, other);
  });
});
