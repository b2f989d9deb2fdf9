import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { ingestDataset } from '../../activities/ingest';
import { getPhotos } from '../../infra/photos';
import { cropStats } from '../../lib/drift';
import { LABELS } from '../../lib/labels';
import { REPO_ROOT } from '../../lib/paths';
import type { RunningServer } from '../../services/inference/server';
import { cropSplit } from '../../services/inference/usecases/feedback';
import { admin, postImage, startTestServer, tempDir } from '../../services/inference/testing/harness';
import { validate } from '../../services/inference/testing/schema-check';

/** A 48x48 crop whose only lit strip is strip `k` of 7 (the `strips` fixture answers class k), lit at `level`. */
function stripPixels(k: number, level = 255): Uint8Array {
  const edges = [0, 6, 13, 20, 27, 34, 41, 48];
  const px = new Uint8Array(48 * 48);
  for (let y = 0; y < 48; y++) for (let x = edges[k]; x < edges[k + 1]; x++) px[y * 48 + x] = level;
  return px;
}
const png = (px: Uint8Array) => sharp(Buffer.from(px), { raw: { width: 48, height: 48, channels: 1 } }).png().toBuffer();

async function predictStrip(url: string, k: number, level = 255, requestId?: string): Promise<string> {
  const res = await postImage(url, await png(stripPixels(k, level)), { query: 'detect=false', headers: requestId ? { 'x-request-id': requestId } : {} });
  assert.equal(res.status, 200);
  return res.json.requestId;
}

async function feedback(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

const metricLine = async (url: string, re: RegExp) => (await (await fetch(`${url}/metrics`)).text()).split('\n').find((l) => re.test(l));

describe('monitoring: feedback and drift statistics on the real service', () => {
  let server: RunningServer;
  let feedbackDir: string;
  before(async () => {
    feedbackDir = tempDir('ferops-monitoring-feedback-');
    server = await startTestServer({ feedbackDir, feedbackTtlSeconds: 2 });
  });
  after(() => server.stop());

  it('when served faces are labelled right and wrong, then each is stored durably and /metrics shows live accuracy', async () => {
    const version = server.ctx.slots.get('stable')!.info.version;
    const right = await feedback(server.url, { requestId: await predictStrip(server.url, 3), faceIndex: 0, label: 'happy' });
    assert.equal(right.status, 201);
    assert.deepEqual(validate('FeedbackResponse', right.json), []);
    assert.equal(right.json.correct, true);
    assert.equal(right.json.modelVersion, version);
    const wrong = await feedback(server.url, { requestId: await predictStrip(server.url, 4), faceIndex: 0, label: 0 });
    assert.equal(wrong.status, 201);
    assert.deepEqual([wrong.json.predicted, wrong.json.label, wrong.json.correct], ['sad', 'angry', false]);
    assert.equal(wrong.json.cropPath, undefined, 'crops are not kept by default');

    const lines = readFileSync(join(feedbackDir, 'feedback.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => [l.label, l.correct]), [['happy', true], ['angry', false]]);
    assert.match((await metricLine(server.url, /^ferops_feedback_total\{.*correct="true"/))!, / 1$/);
    assert.match((await metricLine(server.url, /^ferops_feedback_accuracy\{/))!, new RegExp(`version="${version}".* 0\\.5$`));
    // The counts a fleet sums over its replicas (Grafana: correct / labelled), from the same durable log.
    assert.match((await metricLine(server.url, /^ferops_feedback_labelled_faces\{/))!, new RegExp(`version="${version}".* 2$`));
    assert.match((await metricLine(server.url, /^ferops_feedback_correct_faces\{/))!, new RegExp(`version="${version}".* 1$`));
    assert.equal(existsSync(join(feedbackDir, 'crops')), false);
  });

  it('when feedback is unknown, malformed, out of range or repeated, then it is refused with 404/400/409 and not stored', async () => {
    const id = await predictStrip(server.url, 1);
    const before = readFileSync(join(feedbackDir, 'feedback.jsonl'), 'utf8');
    assert.equal((await feedback(server.url, { requestId: 'never-served', faceIndex: 0, label: 'happy' })).status, 404);
    assert.equal((await feedback(server.url, { requestId: id, faceIndex: 1, label: 'happy' })).status, 400);
    const bored = await feedback(server.url, { requestId: id, faceIndex: 0, label: 'bored' });
    assert.equal(bored.status, 400);
    assert.equal(bored.json.error.message, 'label: expected one of angry, disgust, fear, happy, sad, surprise, neutral, or its index 0-6');
    assert.equal((await feedback(server.url, { requestId: id, faceIndex: 0, label: 7 })).status, 400);
    assert.equal((await feedback(server.url, { requestId: id, faceIndex: 0 })).status, 400);
    assert.equal((await feedback(server.url, '{"requestId":')).status, 400);
    assert.equal(readFileSync(join(feedbackDir, 'feedback.jsonl'), 'utf8'), before);
    const mixedCase = await feedback(server.url, { requestId: id, faceIndex: 0, label: ' Disgust ' });
    assert.equal(mixedCase.status, 201);
    assert.equal(mixedCase.json.label, 'disgust');
    const again = await feedback(server.url, { requestId: id, faceIndex: 0, label: 'disgust' });
    assert.equal(again.status, 409);
    assert.equal(again.json.error.code, 'already_labelled');
  });

  it('when feedback arrives after the TTL, then the prediction is forgotten: 404', async () => {
    const id = await predictStrip(server.url, 2);
    await new Promise((r) => setTimeout(r, 2100));
    const res = await feedback(server.url, { requestId: id, faceIndex: 0, label: 'fear' });
    assert.equal(res.status, 404);
    assert.equal(res.json.error.code, 'unknown_request');
  });

  it('when the service restarts on the same feedback dir, then live accuracy is rebuilt from the log', async () => {
    const again = await startTestServer({ feedbackDir });
    try {
      assert.match((await metricLine(again.url, /^ferops_feedback_accuracy\{/))!, / 0\.6666/);
      assert.match((await metricLine(again.url, /^ferops_feedback_labelled_faces\{/))!, / 3$/);
    } finally {
      await again.stop();
    }
  });

  it('when faceIndex is left out, then a one-face answer is labelled as face 0; an answer with several faces or none is refused saying why', async () => {
    const one = await feedback(server.url, { requestId: await predictStrip(server.url, 2), label: 'fear' });
    assert.equal(one.status, 201);
    assert.deepEqual([one.json.faceIndex, one.json.predicted, one.json.label], [0, 'fear', 'fear']);
    const group = await postImage(server.url, readFileSync(getPhotos().samples[0]), { contentType: 'image/jpeg' });
    const faces = group.json.faces.length;
    assert.ok(faces > 1, `${faces} faces on ${getPhotos().samples[0]}`);
    const several = await feedback(server.url, { requestId: group.json.requestId, label: 'happy' });
    assert.equal(several.status, 400);
    assert.equal(several.json.error.message, `request ${group.json.requestId} has ${faces} faces: say which with faceIndex (0-${faces - 1})`);
    const blank = await postImage(server.url, await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).png().toBuffer());
    assert.equal(blank.json.faces.length, 0);
    const none = await feedback(server.url, { requestId: blank.json.requestId, label: 'happy' });
    assert.equal(none.status, 400);
    assert.equal(none.json.error.message, `request ${blank.json.requestId} found no face: there is nothing to label`);
    assert.equal((await feedback(server.url, { requestId: group.json.requestId, faceIndex: faces - 1, label: 'happy' })).status, 201);
  });

  it('when a user labels a face with `ferops feedback` after `ferops predict`, then the face is numbered as predict printed it and a refusal says why', async (t) => {
    // Its own service: each command takes about a second to start, longer than this suite's feedback TTL.
    const served = await startTestServer({ feedbackDir: tempDir('ferops-cli-feedback-') });
    t.after(() => served.stop());
    const ferops = (...args: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services/cli/main.ts'), ...args, '--url', served.url], { cwd: REPO_ROOT });
    const failure = (p: Promise<unknown>) => p.then(() => assert.fail('succeeded'), (e: { code: number; stderr: string }) => e);
    const printed = (await ferops('predict', getPhotos().samples[0])).stdout;
    const [, faces, requestId] = /^(\d+) face\(s\), model v\S+, request (\S+)$/m.exec(printed)!;
    const second = /^ {2}face 2 at .*: (\w+) \(/m.exec(printed)![1];
    assert.equal((await ferops('feedback', requestId, 'Happy', '--face', '2')).stdout.trim(),
      `face 2 of ${requestId} labelled happy: model v${served.ctx.slots.get('stable')!.info.version} said ${second} (${second === 'happy' ? 'right' : 'wrong'})`);
    const unsaid = await failure(ferops('feedback', requestId, 'sad'));
    assert.equal(unsaid.code, 1);
    assert.equal(unsaid.stderr.trim(), `ferops: feedback failed (400): invalid_request: request ${requestId} has ${faces} faces: say which with faceIndex (0-${Number(faces) - 1})`);
    assert.equal((await failure(ferops('feedback', requestId, 'sad', '--face', '2'))).stderr.trim(),
      `ferops: feedback failed (409): already_labelled: faceIndex 1 of request ${requestId} already has feedback`);
    assert.equal((await failure(ferops('feedback', requestId, 'sad', '--face', '0'))).code, 2);
  });

  it('when crops are kept without FEROPS_FEEDBACK_CROPS_TRAINABLE, then labelled crops wait in crops-unreviewed/ and never reach crops/', async () => {
    const dir = tempDir('ferops-monitoring-unreviewed-');
    const keeping = await startTestServer({ feedbackDir: dir, keepCrops: true });
    try {
      const id = await predictStrip(keeping.url, 2);
      const res = await feedback(keeping.url, { requestId: id, faceIndex: 0, label: 'fear' });
      assert.equal(res.status, 201);
      assert.equal(res.json.cropPath, join(dir, 'crops-unreviewed', cropSplit(id, 0), 'fear', `${id.replace(/[^\w.-]/g, '_')}-0.png`));
      assert.ok(existsSync(res.json.cropPath));
      assert.equal(existsSync(join(dir, 'crops')), false, 'a label from an unauthenticated client is not training data until an operator says so');
    } finally {
      await keeping.stop();
    }
  });

  it('when crops are kept and trainable, then a labelled crop is saved as PNG under crops/<split>/<label>/ for the image-folder ingest', async () => {
    const dir = tempDir('ferops-monitoring-crops-');
    const keeping = await startTestServer({ feedbackDir: dir, keepCrops: true, feedbackCropsTrainable: true });
    try {
      const id = await predictStrip(keeping.url, 5);
      const res = await feedback(keeping.url, { requestId: id, faceIndex: 0, label: 'surprise' });
      assert.equal(res.status, 201);
      const split = cropSplit(id, 0);
      assert.equal(res.json.cropPath, join(dir, 'crops', split, 'surprise', `${id.replace(/[^\w.-]/g, '_')}-0.png`));
      assert.deepEqual(readdirSync(join(dir, 'crops', split, 'surprise')), [`${id.replace(/[^\w.-]/g, '_')}-0.png`]);
      const meta = await sharp(res.json.cropPath).metadata();
      assert.deepEqual([meta.width, meta.height], [48, 48]);
      const data = await sharp(res.json.cropPath).extractChannel(0).raw().toBuffer();
      assert.deepEqual(Uint8Array.from(data), stripPixels(5));

      // The saved crops are a dataset the image-folder ingest source reads as is.
      // Fixed request ids make the 1-in-5 test split deterministic: these 21 (distinct pixels, as ingest refuses duplicates across splits) land in both.
      for (let k = 0; k < 21; k++) {
        const rid = await predictStrip(keeping.url, k % 7, 150 + k * 4, `crop-test-${k}`);
        assert.equal((await feedback(keeping.url, { requestId: rid, faceIndex: 0, label: LABELS[k % 7] })).status, 201);
      }
      const ingested = await ingestDataset({ kind: 'image-folder', path: join(dir, 'crops') }, { dataRoot: join(dir, 'data') });
      assert.equal(ingested.manifest.splits.train + ingested.manifest.splits.val + ingested.manifest.splits.test, 22);
      assert.ok(ingested.manifest.splits.test > 0);
      assert.equal(ingested.manifest.rejected.total, 0);
    } finally {
      await keeping.stop();
    }
  });

  it('when traffic is served, then /admin/v1/drift bins classes, crop brightness and contrast for the stable slot', async () => {
    const fresh = await startTestServer({ feedbackDir: tempDir('ferops-monitoring-drift-') });
    try {
      for (let i = 0; i < 4; i++) await predictStrip(fresh.url, 3);
      await predictStrip(fresh.url, 6, 120);
      const res = await admin(fresh.url, 'GET', '/admin/v1/drift?windowSeconds=60');
      assert.equal(res.status, 200);
      assert.deepEqual(validate('DriftResponse', res.json), []);
      const s = res.json.slots.stable;
      assert.equal(s.requests, 5);
      assert.equal(s.faces, 5);
      assert.equal(s.faceDetectionRate, 1);
      assert.deepEqual(s.features.classes, [0, 0, 0, 4, 0, 0, 1]);
      const bright = cropStats(stripPixels(3));
      const dim = cropStats(stripPixels(6, 120));
      const expectBins = new Array(10).fill(0);
      expectBins[Math.floor(bright.brightness * 10)] += 4;
      expectBins[Math.floor(dim.brightness * 10)] += 1;
      assert.deepEqual(s.features.brightness, expectBins);
      assert.equal(s.features.contrast.reduce((a: number, b: number) => a + b, 0), 5);
      assert.equal(res.json.slots.canary.requests, 0);
      assert.equal((await admin(fresh.url, 'GET', '/admin/v1/drift?windowSeconds=0')).status, 400);
      assert.equal((await admin(fresh.url, 'GET', '/admin/v1/drift', undefined, null)).status, 401);
    } finally {
      await fresh.stop();
    }
  });
});
