import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InferenceAdminClient } from '../../lib/inference-admin/client';
import { MlflowClient } from '../../lib/mlflow';
import { TASK_QUEUE } from '../../lib/temporal-constants';
import { startLoad, type LoadStats } from '../../services/cli/load-generator';
import { startOrAttach } from '../../services/cli/pipeline-runner';
import { smallPipeline, startChaosStack, waitFor, type ChaosStack } from './harness';

// The inference replica restarts in the middle of a canary rollout: it must come back serving the fleet's desired
// state (the canary at its weight) by itself, and no window may count data it did not see as a pass.
let s: ChaosStack;
let load: { stop(): Promise<LoadStats> } | undefined;
before(async () => void (s = await startChaosStack('chaos-canary')), { timeout: 300_000 });
after(async () => {
  await load?.stop();
  await s?.close();
});

describe('chaos: canary faults', { timeout: 600_000 }, () => {
  it('when the inference replica restarts during a canary window, then it comes back serving the desired state by itself, and the rollout decides on data of that state only', async (t) => {
    const first = await startOrAttach(s.client, TASK_QUEUE, smallPipeline(31, 2), `chaos-canary-a-${randomUUID()}`);
    const a = await first.handle.result();
    assert.equal(a.outcome, 'promoted', `the first model becomes champion: ${a.reason}`);
    load = startLoad(s.stack.inferenceUrl, join(s.dataDir, 'datasets', a.datasetId), 10);

    // Thresholds opened wide: only the amount of canary data can decide these windows. The restart lands inside
    // the first window (the replica's stats are in memory, so that window loses what came before the restart).
    const second = await startOrAttach(s.client, TASK_QUEUE, smallPipeline(32, 2, {
      rollout: {
        shadowSeconds: 0, steps: [50, 100], windowSeconds: 20, minRequests: 10, maxExtensions: 2,
        thresholds: { maxLatencyRatio: 1000, maxClassDivergence: 1, minConfidenceRatio: 0, maxErrorRateIncrease: 1 },
      },
    }), `chaos-canary-b-${randomUUID()}`);
    const admin = new InferenceAdminClient(s.stack.inference.replicas[0].url, s.stack.adminToken);
    const atFifty = async () => {
      const st = await admin.slots().catch(() => undefined);
      return st?.canary && st.traffic.canaryWeight === 50 ? st : undefined;
    };
    const before = await waitFor('the replica to send the canary 50% of traffic', atFifty, 600_000);
    const restartedAt = Date.now();
    await s.stack.restart('inference');
    // Nothing calls the new process: it reads the desired state from the registry and is ready only then.
    const after = await waitFor('the restarted replica to serve the desired state again', atFifty, 60_000);
    const convergedMs = Date.now() - restartedAt;
    assert.equal(after.deployment.generation, before.deployment.generation, 'the same generation as before the restart');
    assert.equal(after.canary?.version, before.canary?.version);

    const b = await second.handle.result();
    const stats = await load.stop();
    load = undefined;
    assert.equal(b.outcome, 'promoted', `every window was decided on the canary's data after the restart: ${b.reason}`);
    const decisions = b.rollout!.decisions;
    assert.ok(decisions.every((d) => d.analysis.numbers.canaryRequests >= 10), `no window passed without data: ${JSON.stringify(decisions.map((d) => d.analysis))}`);
    const mlflow = new MlflowClient({ baseUrl: s.stack.mlflowUrl });
    assert.equal((await mlflow.getModelVersionByAlias('ferops-fer', 'champion'))?.version, b.modelVersion);
    const state = await admin.slots();
    assert.equal(state.stable?.version, b.modelVersion, 'the new champion serves');
    assert.equal(state.canary, null, 'no canary left behind');
    // One replica and no load balancer here (the fleet test has those): while it restarts, clients are refused or
    // told it is not ready yet, and nothing else.
    assert.ok(Object.keys(stats.failures).every((cause) => /ECONNREFUSED|^503$/.test(cause)), `failures only while it was down: ${JSON.stringify(stats.failures)}`);
    t.diagnostic(`observed: restart to serving the desired state ${convergedMs} ms; windows ${JSON.stringify(decisions.map((d) => [d.canaryWeight, d.attempt, d.analysis.verdict, d.analysis.numbers.canaryRequests]))}; load ${JSON.stringify(stats)}`);
  });

  it('when the admin API gets URL, file and traversal sources and good and bad tokens, then sources are refused and the token is in no log of the stack', async (t) => {
    const call = (token: string, body: unknown) => fetch(`${s.stack.inferenceUrl}/admin/v1/slots/canary`, {
      method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const refusals: string[] = [];
    for (const source of ['https://example.com/model.onnx', 'file:///etc/passwd', '../../etc', 'models:/../../x', `${s.dataDir}/../../etc`]) {
      const res = await call(s.stack.adminToken, { source, version: 'evil' });
      const text = await res.text();
      // 409: the stack's replicas follow the desired state and take no slot change by admin call at all.
      assert.ok([400, 403, 404, 409].includes(res.status), `${source}: ${res.status} ${text}`);
      assert.doesNotMatch(text, /root:x:0/);
      refusals.push(`${source} -> ${res.status} ${JSON.parse(text).error?.code}`);
    }
    assert.equal((await call(`${s.stack.adminToken}x`, { source: 'x' })).status, 403);
    assert.equal((await call(s.stack.adminToken.slice(0, 10), { source: 'x' })).status, 403);
    const state = await new InferenceAdminClient(s.stack.inferenceUrl, s.stack.adminToken).slots();
    assert.equal(state.canary, null, 'nothing was loaded');
    // Every process of the stack logged through a whole rollout and these calls: none may hold the secret.
    const logs = [join(s.dataDir, 'logs'), join(s.dataDir, 'temporal'), join(s.dataDir, 'mlflow')]
      .flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.log')).map((f) => join(d, f)));
    assert.ok(logs.some((f) => f.endsWith('inference.log')), `logs found: ${logs.join(', ')}`);
    for (const f of logs) assert.ok(!readFileSync(f, 'utf8').includes(s.stack.adminToken), `${f} holds the admin token`);
    t.diagnostic(`observed: ${refusals.join('; ')}; ${logs.length} log files free of the token`);
  });
});
