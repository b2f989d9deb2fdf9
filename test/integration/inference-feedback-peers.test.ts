import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { RunningServer } from '../../services/inference/server';
import { ADMIN_TOKEN, admin, postImage, startTestServer, tempDir } from '../../services/inference/testing/harness';
import { validate } from '../../services/inference/testing/schema-check';

// Behind a load balancer without affinity (a Kubernetes Service balances per connection), a label reaches any
// replica, while only the one that answered remembers the prediction. Three real replicas here, each finding the
// others through a discovery file as the embedded stack writes it.

/** A 48x48 crop lit in strip 3 of 7: the `strips` fixture answers happy. */
const happyCrop = () => {
  const px = new Uint8Array(48 * 48);
  for (let y = 0; y < 48; y++) for (let x = 20; x < 27; x++) px[y * 48 + x] = 255;
  return sharp(Buffer.from(px), { raw: { width: 48, height: 48, channels: 1 } }).png().toBuffer();
};

async function predict(url: string): Promise<string> {
  const res = await postImage(url, await happyCrop(), { query: 'detect=false' });
  assert.equal(res.status, 200);
  return res.json.requestId;
}

async function feedback(url: string, body: unknown): Promise<{ status: number; json: any; retryAfter: string | null }> {
  const res = await fetch(`${url}/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json(), retryAfter: res.headers.get('retry-after') };
}

const storedLabels = (dir: string): string[] => {
  const path = join(dir, 'feedback.jsonl');
  return existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).requestId) : [];
};

/** A port that refuses connections: bound by nothing once the listener closes. */
async function closedPortUrl(): Promise<string> {
  const probe: Server = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}`;
}

describe('feedback in a fleet: a label reaching another replica is stored by the one that made the prediction', () => {
  const replicas: RunningServer[] = [];
  const feedbackDirs: string[] = [];
  const discoveryFile = join(tempDir('ferops-feedback-peers-'), 'replicas.txt');
  const publish = (urls: string[]) => writeFileSync(discoveryFile, `${urls.join('\n')}\n`);

  before(async () => {
    for (let i = 0; i < 3; i++) {
      feedbackDirs.push(tempDir(`ferops-feedback-peer-${i}-`));
      replicas.push(await startTestServer({ feedbackDir: feedbackDirs[i], inferenceDiscovery: `file:${discoveryFile}`, replicaId: `replica-${i}` }));
    }
    publish(replicas.map((r) => r.adminUrl));
  });
  after(async () => {
    for (const r of replicas) await r.stop();
  });

  it('when a label for replica 0\'s prediction is posted to replica 1, then replica 0 stores it, once, and answers through replica 1', async () => {
    const id = await predict(replicas[0].url);
    const res = await feedback(replicas[1].url, { requestId: id, faceIndex: 0, label: 'happy' });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    assert.deepEqual(validate('FeedbackResponse', res.json), []);
    assert.deepEqual([res.json.modelVersion, res.json.predicted, res.json.correct], [replicas[0].ctx.slots.get('stable')!.info.version, 'happy', true]);
    assert.deepEqual(feedbackDirs.map(storedLabels), [[id], [], []], 'only the replica that made the prediction stores the label');

    // A client retry through a third replica is the same label again: refused as the owner refuses it.
    const again = await feedback(replicas[2].url, { requestId: id, faceIndex: 0, label: 'sad' });
    assert.deepEqual([again.status, again.json.error.code], [409, 'already_labelled']);
    const outOfRange = await feedback(replicas[2].url, { requestId: await predict(replicas[0].url), faceIndex: 3, label: 'sad' });
    assert.deepEqual([outOfRange.status, outOfRange.json.error.code], [400, 'invalid_request']);
    assert.match(outOfRange.json.error.message, /has 1 face\(s\); faceIndex 3 is out of range/);
    assert.deepEqual(feedbackDirs.map(storedLabels), [[id], [], []]);
  });

  it('when no replica made the prediction, then 404 unknown_request says how many were asked', async () => {
    const res = await feedback(replicas[1].url, { requestId: 'never-served', faceIndex: 0, label: 'happy' });
    assert.deepEqual([res.status, res.json.error.code], [404, 'unknown_request']);
    assert.match(res.json.error.message, /on any of 3 replica\(s\)/);
  });

  it('when the replica that made the prediction cannot be reached, then 503 with Retry-After, nothing is stored, and the retry once it is back stores the label', async () => {
    const id = await predict(replicas[0].url);
    const before = feedbackDirs.map(storedLabels);
    publish([await closedPortUrl(), replicas[1].adminUrl, replicas[2].adminUrl]);
    try {
      const res = await feedback(replicas[1].url, { requestId: id, faceIndex: 0, label: 'happy' });
      assert.deepEqual([res.status, res.json.error.code], [503, 'feedback_unavailable']);
      assert.match(res.json.error.message, /1 of 3 replica\(s\) did not answer/);
      assert.equal(res.retryAfter, '5');
      assert.deepEqual(feedbackDirs.map(storedLabels), before, 'nothing stored anywhere');
    } finally {
      publish(replicas.map((r) => r.adminUrl));
    }
    const retry = await feedback(replicas[1].url, { requestId: id, faceIndex: 0, label: 'happy' });
    assert.equal(retry.status, 201, JSON.stringify(retry.json));
    assert.deepEqual(storedLabels(feedbackDirs[0]), [...before[0], id]);
  });

  it('when the pass-on call comes without the admin token, then it is refused: a client cannot label through the admin route', async () => {
    const id = await predict(replicas[0].url);
    const noToken = await admin(replicas[0].adminUrl, 'POST', '/admin/v1/feedback', { requestId: id, faceIndex: 0, label: 'happy' }, null);
    assert.equal(noToken.status, 401);
    const withToken = await admin(replicas[0].adminUrl, 'POST', '/admin/v1/feedback', { requestId: id, faceIndex: 0, label: 'happy' }, ADMIN_TOKEN);
    assert.equal(withToken.status, 200);
    assert.deepEqual(validate('FeedbackResponse', withToken.json), []);
    // The admin route stores only what its replica served: it never passes a label on, so calls cannot loop.
    const elsewhere = await admin(replicas[1].adminUrl, 'POST', '/admin/v1/feedback', { requestId: await predict(replicas[0].url), faceIndex: 0, label: 'happy' });
    assert.deepEqual([elsewhere.status, elsewhere.json.error.code], [404, 'unknown_request']);
  });

  it('when FEROPS_INFERENCE_DISCOVERY is set without an admin token, or malformed, then the replica refuses to start and says why', async () => {
    await assert.rejects(startTestServer({ adminToken: undefined, inferenceDiscovery: `file:${discoveryFile}` }), /FEROPS_INFERENCE_DISCOVERY: needs FEROPS_ADMIN_TOKEN/);
    await assert.rejects(startTestServer({ inferenceDiscovery: 'dns:no-port' }), /FEROPS_INFERENCE_DISCOVERY: .*dns:<host>:<port>/);
  });
});
