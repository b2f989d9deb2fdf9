import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MetricBuffer, MlflowUnavailableError, type MlflowClient } from '../../lib/mlflow';
import { findOrCreateRun, logMetricsOnce } from '../../activities/tracking';
import { startMlflowFixture, unique, type MlflowFixture } from './mlflow-fixtures';

// A budget that outlasts a stop + restart of the server (restart alone takes 10-20 s here).
const OUTAGE_RETRY = { totalTimeoutMs: 120_000, maxDelayMs: 2_000, attempts: 1_000 };

let fx: MlflowFixture;
let client: MlflowClient;

before(async () => {
  fx = await startMlflowFixture(OUTAGE_RETRY);
  client = fx.client;
});
after(async () => fx?.stop());

const steps = (key: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ key, value: (from + i) / 10, step: from + i }));

describe('idempotency', () => {
  it('when findOrCreateRun is called again with the same key, then it returns the first run', async () => {
    const experimentId = await client.getOrCreateExperiment(unique('idem'));
    const a = await findOrCreateRun(client, { experimentId, runKey: "wf-1/train 'quoted'", runName: 'train' });
    const b = await findOrCreateRun(client, { experimentId, runKey: "wf-1/train 'quoted'", runName: 'train' });
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.equal(b.run.info.run_id, a.run.info.run_id);
    const other = await findOrCreateRun(client, { experimentId, runKey: 'wf-2/train' });
    assert.notEqual(other.run.info.run_id, a.run.info.run_id);
    await assert.rejects(findOrCreateRun(client, { experimentId, runKey: ' ' }), /runKey/);
  });

  it('when a history is re-logged with overlap, then each (key, step) is stored once', async () => {
    const experimentId = await client.getOrCreateExperiment(unique('dedup'));
    const runId = (await client.createRun({ experimentId })).info.run_id;
    assert.equal(await logMetricsOnce(client, runId, steps('loss', 0, 50)), 50);
    assert.equal(await logMetricsOnce(client, runId, [...steps('loss', 0, 100), ...steps('acc', 0, 10)]), 60);
    const loss = await client.getMetricHistory(runId, 'loss');
    assert.equal(loss.length, 100);
    assert.equal(new Set(loss.map((m) => m.step)).size, 100);
  });
});

describe('server outage', () => {
  it('when MLflow is down for a while, then calls and buffered metrics wait for it and nothing is lost or doubled', async () => {
    const experimentId = await client.getOrCreateExperiment(unique('outage'));
    const runId = (await client.createRun({ experimentId })).info.run_id;
    const buffer = new MetricBuffer({ baseUrl: fx.server.url, runId, retry: OUTAGE_RETRY });
    const impatient = new MetricBuffer({ baseUrl: fx.server.url, runId, retry: { totalTimeoutMs: 1_500, maxDelayMs: 300 } });
    buffer.addAll(steps('loss', 0, 100));
    await buffer.flush();
    assert.equal(buffer.pending, 0);

    await fx.server.stop();
    buffer.addAll(steps('loss', 100, 1_500)); // more than one log-batch request
    impatient.addAll(steps('val_loss', 0, 5));
    // Settled promises, so that a failure shows up at the assertion rather than as an unhandled rejection.
    const settle = <T>(p: Promise<T>) => p.then((v) => ({ v }), (e: unknown) => ({ e }));
    const flushing = settle(buffer.flush());
    const creating = settle(findOrCreateRun(client, { experimentId, runKey: 'during-outage' }));
    const tagging = settle(client.setTags(runId, { during: 'outage' }));
    await assert.rejects(impatient.flush(), MlflowUnavailableError);
    assert.equal(impatient.pending, 5, 'points stay queued when the budget runs out');

    await sleep(6_000);
    const t0 = Date.now();
    await fx.restart();
    const results = await Promise.all([flushing, creating, tagging]);
    for (const r of results) if ('e' in r) throw r.e;
    const created = (results[1] as { v: Awaited<ReturnType<typeof findOrCreateRun>> }).v;
    await impatient.flush();
    const waited = Date.now() - t0;

    assert.equal(buffer.pending, 0);
    const loss = await client.getMetricHistory(runId, 'loss');
    assert.equal(loss.length, 1_500, 'every point exactly once');
    assert.deepEqual([...new Set(loss.map((m) => m.step))].sort((a, b) => a - b), Array.from({ length: 1_500 }, (_, i) => i));
    assert.equal((await client.getMetricHistory(runId, 'val_loss')).length, 5);
    assert.equal(created.created, true);
    const runs = await client.searchRuns({ experimentIds: [experimentId], filter: "tags.`ferops.run_key` = 'during-outage'" });
    assert.equal(runs.length, 1);
    assert.ok(waited < 60_000, `calls resumed ${waited} ms after the restart began`);
  });

  it('when the server answers 4xx, then the buffer fails at once and keeps the points', async () => {
    const buffer = new MetricBuffer({ baseUrl: fx.server.url, runId: 'f'.repeat(32), retry: OUTAGE_RETRY });
    buffer.add('loss', 1, 0);
    const t0 = Date.now();
    await assert.rejects(buffer.flush(), /RESOURCE_DOES_NOT_EXIST|404/);
    assert.ok(Date.now() - t0 < 2_000);
    assert.equal(buffer.pending, 1);
  });
});
