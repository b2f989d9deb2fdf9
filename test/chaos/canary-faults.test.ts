import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DeploymentState } from '../../activities/types';
import { InferenceAdminClient } from '../../activities/deploy/inference-admin-client';
import { MlflowClient } from '../../lib/mlflow';
import { TASK_QUEUE } from '../../lib/temporal-constants';
import { startLoad, type LoadStats } from '../../services/cli/load-generator';
import { startOrAttach } from '../../services/cli/pipeline-runner';
import { smallPipeline, startChaosStack, waitFor, type ChaosStack } from './harness';

// The inference service restarts in the middle of a canary rollout: it comes back with the champion in stable and
// no canary, so the windows after the restart have no canary data. Missing data must never count as a pass.
let s: ChaosStack;
let load: { stop(): Promise<LoadStats> } | undefined;
before(async () => void (s = await startChaosStack('chaos-canary')), { timeout: 300_000 });
after(async () => {
  await load?.stop();
  await s?.close();
});

describe('chaos: canary faults', { timeout: 600_000 }, () => {
  it('when the inference service restarts during a canary window, then the rollout never promotes on missing data: inconclusive windows, then a safe rollback with the champion serving', async (t) => {
    const first = await startOrAttach(s.client, TASK_QUEUE, smallPipeline(31, 2), `chaos-canary-a-${randomUUID()}`);
    const a = await first.handle.result();
    assert.equal(a.outcome, 'promoted', `the first model becomes champion: ${a.reason}`);
    load = startLoad(s.stack.inferenceUrl, join(s.dataDir, 'datasets', a.datasetId), 10);

    // Thresholds opened wide: only the amount of canary data can decide these windows. The restart has to land
    // inside the first window (the service's stats are in memory): 20 s leaves a busy runner ample time to stop it.
    const second = await startOrAttach(s.client, TASK_QUEUE, smallPipeline(32, 2, {
      rollout: {
        shadowSeconds: 0, steps: [50, 100], windowSeconds: 20, minRequests: 10, maxExtensions: 2,
        thresholds: { maxLatencyRatio: 1000, maxClassDivergence: 1, minConfidenceRatio: 0, maxErrorRateIncrease: 1 },
      },
    }), `chaos-canary-b-${randomUUID()}`);
    // The service itself, not the rollout's state (set before its setTraffic call runs): restarted before that call
    // lands, the service would refuse it (no canary after a restart) and the rollout would end on that instead.
    const admin = new InferenceAdminClient(s.stack.inferenceUrl, s.stack.adminToken);
    await waitFor('the service to send the canary 50% of traffic', async () => {
      const st = await admin.state().catch(() => undefined);
      return st?.canary !== undefined && st.canaryWeight === 50;
    }, 600_000);
    await s.stack.restart('inference');

    const b = await second.handle.result();
    const stats = await load.stop();
    load = undefined;
    assert.equal(b.outcome, 'rolled_back', `not promoted: ${b.reason}`);
    const decisions = b.rollout!.decisions;
    assert.ok(decisions.length >= 1, 'at least one window was analysed');
    assert.ok(decisions.every((d) => d.analysis.verdict !== 'pass'), `no window passed: ${JSON.stringify(decisions.map((d) => d.analysis))}`);
    assert.ok(decisions.every((d) => d.canaryWeight === 50), 'never moved past the first step');
    assert.match(b.reason, /inconclusive after 3 windows/);

    // The decision record on the registry says the same, and the champion did not move.
    const mlflow = new MlflowClient({ baseUrl: s.stack.mlflowUrl });
    const mv = await mlflow.getModelVersion('ferops-fer', b.modelVersion!);
    const tag = mv.tags?.find((t) => t.key === 'ferops.canary.traffic-50');
    assert.ok(tag, 'the window decision is recorded on the version');
    assert.equal(JSON.parse(tag.value).verdict, 'inconclusive');
    assert.equal((await mlflow.getModelVersionByAlias('ferops-fer', 'champion'))?.version, a.modelVersion);
    const state: DeploymentState = await admin.state();
    assert.equal(state.stable?.version, a.modelVersion, 'the champion serves');
    assert.equal(state.canary, undefined, 'no canary left behind');
    assert.equal(state.canaryWeight, 0);
    assert.ok(stats.ok > 0, `traffic was served (${JSON.stringify(stats)})`);
    t.diagnostic(`observed: ${b.reason}; windows ${JSON.stringify(decisions.map((d) => [d.attempt, d.analysis.verdict, d.analysis.numbers.canaryRequests]))}; load ${JSON.stringify(stats)}`);
  });

  it('when the admin API gets URL, file and traversal sources and good and bad tokens, then sources are refused and the token is in no log of the stack', async (t) => {
    const call = (token: string, body: unknown) => fetch(`${s.stack.inferenceUrl}/admin/v1/slots/canary`, {
      method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const refusals: string[] = [];
    for (const source of ['https://example.com/model.onnx', 'file:///etc/passwd', '../../etc', 'models:/../../x', `${s.dataDir}/../../etc`]) {
      const res = await call(s.stack.adminToken, { source, version: 'evil' });
      const text = await res.text();
      assert.ok([400, 403, 404].includes(res.status), `${source}: ${res.status} ${text}`);
      assert.doesNotMatch(text, /root:x:0/);
      refusals.push(`${source} -> ${res.status} ${JSON.parse(text).error?.code}`);
    }
    assert.equal((await call(`${s.stack.adminToken}x`, { source: 'x' })).status, 403);
    assert.equal((await call(s.stack.adminToken.slice(0, 10), { source: 'x' })).status, 403);
    const state = await new InferenceAdminClient(s.stack.inferenceUrl, s.stack.adminToken).state();
    assert.equal(state.canary, undefined, 'nothing was loaded');
    // Every process of the stack logged through a whole rollout and these calls: none may hold the secret.
    const logs = [join(s.dataDir, 'logs'), join(s.dataDir, 'temporal'), join(s.dataDir, 'mlflow')]
      .flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.log')).map((f) => join(d, f)));
    assert.ok(logs.some((f) => f.endsWith('inference.log')), `logs found: ${logs.join(', ')}`);
    for (const f of logs) assert.ok(!readFileSync(f, 'utf8').includes(s.stack.adminToken), `${f} holds the admin token`);
    t.diagnostic(`observed: ${refusals.join('; ')}; ${logs.length} log files free of the token`);
  });
});
