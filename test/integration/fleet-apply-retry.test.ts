import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { InferenceAdminClient } from '../../lib/inference-admin/client';
import { changeDesiredState, registrySource } from '../../lib/inference-admin/desired-state';
import type { RunningServer } from '../../services/inference/server';
import { ADMIN_TOKEN } from '../../services/inference/testing/harness';
import { desireStable, fleetOf, startFollowingService } from '../helpers/following-service';
import { registerFixture, startMlflowFixture, type MlflowFixture } from './mlflow-fixtures';

// A replica that cannot apply a new desired state either refused its model (that stays so: the rollout must
// stop) or failed to fetch it (the registry away past its client's retries, a full or broken disk: that heals,
// and the deploy activities must wait for it, not roll the candidate back as if it were bad). Real MLflow and a
// real following replica, whose model cache is made unusable and then mended.
const NAME = 'apply-retry-test';

let mlflow: MlflowFixture;
let service: RunningServer;
let cacheDir: string;
const versions: Record<string, string> = {};

const want = (fixture: 'candidate' | 'corrupt', reason: string) =>
  changeDesiredState(mlflow.client, NAME, { canary: { version: versions[fixture], source: registrySource(NAME, versions[fixture]) }, canaryWeight: 0, shadow: true }, reason);
const deployment = async () => (await new InferenceAdminClient(service.adminUrl, ADMIN_TOKEN).slots()).deployment;

before(async () => {
  mlflow = await startMlflowFixture();
  for (const [key, fixture] of [['stable', 'strips'], ['candidate', 'strips'], ['corrupt', 'corrupt']]) versions[key] = await registerFixture(mlflow.client, NAME, NAME, fixture);
  await desireStable(mlflow.server.url, NAME, versions.stable);
  cacheDir = join(mkdtempSync(join(tmpdir(), 'ferops-apply-retry-')), 'model-cache');
  service = await startFollowingService(mlflow.server.url, NAME, { modelCacheDir: cacheDir });
}, { timeout: 300_000 });

after(async () => {
  await service?.stop();
  await mlflow?.stop();
  if (cacheDir) rmSync(join(cacheDir, '..'), { recursive: true, force: true });
});

describe('a replica that cannot apply a desired state: refused or not yet fetched', { timeout: 300_000 }, () => {
  it('when the candidate cannot be fetched (its cache dir broken), then the deploy activities keep waiting, and it is served once the cache is mended', async (t) => {
    // A file where the cache dir should be: every download fails until it is removed, as with a full disk.
    rmSync(cacheDir, { recursive: true, force: true });
    writeFileSync(cacheDir, 'not a directory');
    const { generation } = await want('candidate', 'fetch fails');
    let settled: unknown = 'pending';
    const waiting = fleetOf(service.adminUrl).waitForGeneration(generation).then(() => (settled = 'converged'), (e: unknown) => (settled = e));
    for (const end = Date.now() + 30_000; Date.now() < end && (await deployment()).error?.generation !== generation; ) await sleep(100);
    const failed = await deployment();
    assert.equal(failed.error?.generation, generation, 'the replica reports the generation it could not apply');
    assert.equal(failed.error?.retryable, true, `a fetch failure may heal: ${failed.error?.message}`);
    assert.match(failed.error!.message, /registry request failed: .*(ENOTDIR|EEXIST)/);
    t.diagnostic(`observed: ${failed.error!.message}`);
    await sleep(1_000);
    assert.equal(settled, 'pending', `the deploy activities still wait (before, they failed for good): ${settled}`);

    rmSync(cacheDir, { force: true });
    await waiting;
    assert.equal(settled, 'converged');
    const mended = await new InferenceAdminClient(service.adminUrl, ADMIN_TOKEN).slots();
    assert.deepEqual([mended.canary?.version, mended.deployment.generation, mended.deployment.error], [versions.candidate, generation, null]);
  });

  it('when the candidate is refused (a corrupt model), then the deploy activities fail for good, naming the replica and why', async () => {
    const { generation } = await want('corrupt', 'refused');
    await assert.rejects(fleetOf(service.adminUrl).waitForGeneration(generation), (e: unknown) => {
      assert.ok(e instanceof ApplicationFailure && e.nonRetryable, String(e));
      assert.match(e.message, new RegExp(`could not apply generation ${generation}: model\\.onnx is not a loadable ONNX model`));
      return true;
    });
    assert.equal((await deployment()).error?.retryable, false);
  });
});
