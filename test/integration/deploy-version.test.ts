import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { InferenceAdminClient } from '../../lib/inference-admin/client';
import { readDesiredState } from '../../lib/inference-admin/desired-state';
import { fromKeyValues } from '../../lib/mlflow';
import { withDefaults } from '../../lib/pipeline-input';
import { startDeploy, type DeployRequest } from '../../services/cli/deploy-version';
import { listVersions, versionTable } from '../../services/cli/model-versions';
import { startLoad } from '../../services/cli/load-generator';
import { ADMIN_TOKEN, startTestServer } from '../../services/inference/testing/harness';
import { canaryRollout } from '../../workflows/canary-rollout';
import { approveUpdate, rolloutStateQuery } from '../../workflows/definitions';
import { startRolloutLab, type RolloutLab } from '../helpers/rollout-lab';

// `ferops deploy`: rolling a registered version out again (the way back to an earlier champion) through a real
// Temporal dev server, a real MLflow registry and a real inference replica following it, under load.
const NAME = 'deploy-test';
// The candidates are the stable model itself: only latency could tell them apart, and short windows on a busy
// 2-core runner make that a coin toss, so it is left out (canary-rollout.test.ts tests the analysis).
const ROLLOUT = { shadowSeconds: 2, windowSeconds: 2, steps: [50, 100], minRequests: 5, maxExtensions: 1, thresholds: { maxLatencyRatio: 1000 } };

let lab: RolloutLab;
const deploy = (target: string, o: Partial<DeployRequest> = {}) =>
  startDeploy(lab.temporal.client, lab.mlflow.client, { modelName: NAME, target, taskQueue: lab.taskQueue, rollout: ROLLOUT, ...o });
const alias = async (name: string) => (await lab.mlflow.client.getModelVersionByAlias(NAME, name))?.version;
const tagOf = async (version: string, key: string) => fromKeyValues((await lab.mlflow.client.getModelVersion(NAME, version)).tags)[key];

/** Waits for the rollout to ask for approval, then refuses it (it ends rolled back, having loaded nothing). */
async function reject(handle: WorkflowHandle<typeof canaryRollout>): Promise<void> {
  for (let i = 0; (await handle.query(rolloutStateQuery)).phase !== 'awaiting_approval'; i++) {
    assert.ok(i < 300, 'the rollout never asked for approval');
    await sleep(100);
  }
  await handle.executeUpdate(approveUpdate, { args: [{ approved: false, by: 'alice' }] });
}

before(async () => {
  lab = await startRolloutLab(NAME);
}, { timeout: 300_000 });

after(() => lab?.stop());

describe('ferops deploy: a registered version rolled out again', { timeout: 300_000 }, () => {
  it('when the version already serves, does not exist, or has no alias, then nothing starts and the error says why', async () => {
    const before = await readDesiredState(lab.mlflow.client, NAME);
    await assert.rejects(deploy(lab.stable), new RegExp(`version ${lab.stable} of ${NAME} already serves as stable`));
    await assert.rejects(deploy('@champion'), /already serves as stable/);
    await assert.rejects(deploy('999'), new RegExp(`model ${NAME} has no version 999`));
    await assert.rejects(deploy('previous'), /has no previous champion: a promotion sets the alias "previous"/);
    await assert.rejects(deploy('@nobody'), /has no version with the alias "nobody"/);
    await assert.rejects(deploy('latest'), /is not a version/);
    const candidate = await lab.register('strips');
    await assert.rejects(deploy(candidate, { rollout: { ...ROLLOUT, thresholds: { minShadowKapa: 0 } as never } }), /Unrecognized key.*minShadowKapa/);
    await assert.rejects(deploy(candidate, { rollout: { ...ROLLOUT, steps: [0] } }), /rollout\.steps/);
    assert.deepEqual(await readDesiredState(lab.mlflow.client, NAME), before, 'the deployment is untouched');
    const started = [];
    for await (const w of lab.temporal.client.workflow.list({ query: `WorkflowType = 'canaryRollout'` })) started.push(w.workflowId);
    assert.deepEqual(started, []);
  });

  it('when a newer version has replaced the champion, then `deploy previous` rolls the replaced one back in through every window, the aliases swap, and no client request fails', async () => {
    const first = lab.stable;
    const load = startLoad(lab.service.url, lab.datasetUri, 25);
    try {
      const newer = await lab.register('strips');
      const up = await deploy(newer);
      assert.equal((await up.handle.result()).outcome, 'promoted');
      assert.deepEqual([await alias('champion'), await alias('previous')], [newer, first]);

      const back = await deploy('previous');
      assert.equal(back.version, first);
      assert.equal(back.handle.workflowId, `deploy-${NAME}-v${first}-over-v${newer}`);
      const result = await back.handle.result();
      assert.equal(result.outcome, 'promoted', result.reason);
      assert.deepEqual(result.decisions.filter((d) => d.analysis.verdict === 'pass').map((d) => `${d.phase}:${d.canaryWeight}`), ['shadow:0', 'traffic:50', 'traffic:100']);
      const served = await readDesiredState(lab.mlflow.client, NAME);
      assert.equal(served.stable?.version, first);
      assert.equal(served.canary, null);
      assert.deepEqual([await alias('champion'), await alias('previous')], [first, newer]);
      assert.equal(await tagOf(first, 'ferops.replaced_version'), newer);
    } finally {
      const s = await load.stop();
      assert.equal(s.failed, 0, JSON.stringify(s.failures));
    }
  });

  it('when an operator deploys previous --now, then it serves at once with no window analysed, the aliases swap, and who and why are recorded', async () => {
    const [champion, previous] = [await alias('champion'), await alias('previous')];
    const load = startLoad(lab.service.url, lab.datasetUri, 25);
    try {
      const now = await deploy('previous', { rollout: undefined, immediate: { by: 'alice', reason: 'incident 42' } });
      assert.equal(now.handle.workflowId, `deploy-${NAME}-v${previous}-over-v${champion}-now`);
      const result = await now.handle.result();
      assert.deepEqual(result, { outcome: 'promoted', reason: 'deployed at once by alice, without canary: incident 42', decisions: [] });
      assert.equal((await readDesiredState(lab.mlflow.client, NAME)).stable?.version, previous);
      assert.deepEqual([await alias('champion'), await alias('previous')], [previous, champion]);
      assert.equal(await tagOf(previous!, 'ferops.promotion_reason'), result.reason);
    } finally {
      const s = await load.stop();
      assert.equal(s.failed, 0, JSON.stringify(s.failures));
    }
  });

  it('when the same deploy is asked again while it runs, then it attaches to that rollout; once it was rolled back, asking again starts a new one and says why the last one failed', async () => {
    const candidate = await lab.register('strips');
    const waiting = { ...ROLLOUT, approval: 'required' as const };
    const first = await deploy(candidate, { rollout: waiting });
    assert.equal(first.attached, false);
    assert.equal(first.rolledBack, undefined);
    const firstRun = (await first.handle.describe()).runId;
    const again = await deploy(candidate, { rollout: waiting });
    assert.equal(again.attached, true);
    assert.equal(again.handle.workflowId, first.handle.workflowId);
    await reject(first.handle);
    assert.equal((await first.handle.result()).outcome, 'rolled_back');

    const retry = await deploy(candidate, { rollout: waiting });
    assert.equal(retry.attached, false);
    assert.equal(retry.handle.workflowId, first.handle.workflowId);
    assert.notEqual((await retry.handle.describe()).runId, firstRun);
    assert.match(retry.rolledBack ?? '', new RegExp(`version ${candidate} was rolled back at .*: rejected by alice`));
    await reject(retry.handle);
    assert.equal((await retry.handle.result()).outcome, 'rolled_back');
  });

  it('when a rollout is started from the Temporal UI for the version that serves, then it loads nothing and says so, and the promotion on record is kept', async () => {
    const { stable } = await readDesiredState(lab.mlflow.client, NAME);
    const reason = await tagOf(stable!.version, 'ferops.promotion_reason');
    const before = await readDesiredState(lab.mlflow.client, NAME);
    const result = await lab.temporal.client.workflow.execute(canaryRollout, {
      taskQueue: lab.taskQueue, workflowId: `ui-${randomUUID()}`,
      args: [{ modelName: NAME, version: stable!.version, rollout: withDefaults({ rollout: ROLLOUT }).rollout }],
    });
    assert.deepEqual(result, { outcome: 'promoted', reason: `version ${stable!.version} already serves as stable: nothing rolled out`, decisions: [] });
    assert.deepEqual(await readDesiredState(lab.mlflow.client, NAME), before, 'no generation was written');
    assert.equal(await tagOf(stable!.version, 'ferops.promotion_reason'), reason);
  });

  it('when the stable version is deleted from the registry, then a replica that starts stays unready, a canary is refused saying why, and deploy --now makes it serve again', async () => {
    const { stable } = await readDesiredState(lab.mlflow.client, NAME);
    const replacement = await lab.register('strips');
    await lab.mlflow.client.http.json('DELETE', '/model-versions/delete', { body: { name: NAME, version: stable!.version } });
    const restarted = await startTestServer({ mlflowUrl: lab.mlflow.server.url, desiredState: 'mlflow', modelName: NAME, desiredStatePollMs: 200 });
    try {
      await sleep(1500);
      const unready = await fetch(`${restarted.url}/readyz`);
      assert.equal(unready.status, 503);
      assert.match(await unready.text(), new RegExp(`models:/${NAME}/${stable!.version}: not found in the registry`));
      await assert.rejects(deploy(replacement), new RegExp(`the stable version ${stable!.version} of ${NAME} is no longer in the registry: .* --now --reason`));

      const now = await deploy(replacement, { rollout: undefined, immediate: { by: 'bob', reason: 'stable was deleted' } });
      assert.equal((await now.handle.result()).outcome, 'promoted');
      for (let i = 0; !(await fetch(`${restarted.url}/readyz`)).ok; i++) {
        assert.ok(i < 100, 'the restarted replica never became ready');
        await sleep(200);
      }
      const slots = await new InferenceAdminClient(restarted.url, ADMIN_TOKEN).slots();
      assert.equal(slots.stable?.version, replacement);
    } finally {
      await restarted.stop();
    }
  });

  it('when the versions are listed, then each shows its accuracy, what it serves as, its aliases and how its last rollout ended, newest first', async () => {
    const rows = await listVersions(lab.mlflow.client, NAME);
    const { stable } = await readDesiredState(lab.mlflow.client, NAME);
    assert.deepEqual(rows.map((r) => Number(r.version)), rows.map((r) => Number(r.version)).sort((a, b) => b - a));
    const serving = rows.find((r) => r.version === stable!.version)!;
    assert.equal(serving.serving, 'stable');
    assert.ok(serving.aliases.includes('champion'), JSON.stringify(serving));
    assert.match(serving.lastRollout ?? '', /^promoted .*: deployed at once by bob, without canary: stable was deleted$/);
    assert.equal(serving.accuracy, 1);
    assert.ok(rows.some((r) => /^rolled back .*: rejected by alice$/.test(r.lastRollout ?? '')), JSON.stringify(rows));
    assert.equal(rows.filter((r) => r.serving).length, 1, 'only stable serves');
    const table = versionTable(rows);
    assert.match(table[0], /^version +created \(UTC\) +accuracy +serving +aliases +last rollout$/);
    assert.equal(table.length, rows.length + 1);
  });
});
