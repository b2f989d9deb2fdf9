import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { LABELS } from '../../lib/labels';
import type { RunningServer } from '../../services/inference/server';
import { admin, model, postImage, postMultipart, startTestServer } from '../../services/inference/testing/harness';

/** A 48x48 image whose only bright vertical strip is strip `k` of 7: the `strips` fixture model answers class k. */
async function stripImage(k: number, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const edges = [0, 6, 13, 20, 27, 34, 41, 48];
  const px = Buffer.alloc(48 * 48);
  for (let y = 0; y < 48; y++) for (let x = edges[k]; x < edges[k + 1]; x++) px[y * 48 + x] = 255;
  const img = sharp(px, { raw: { width: 48, height: 48, channels: 1 } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg({ quality: 95 }).toBuffer();
}

describe('inference service: predict', () => {
  let server: RunningServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  it('when a crop is posted raw with detect=false, then the strips model answers its bright strip class', async () => {
    for (let k = 0; k < 7; k++) {
      const res = await postImage(server.url, await stripImage(k), { query: 'detect=false' });
      assert.equal(res.status, 200);
      assert.equal(res.json.faces.length, 1);
      assert.equal(res.json.faces[0].label, LABELS[k], `strip ${k}`);
      const probs = Object.values(res.json.faces[0].probabilities) as number[];
      assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-3);
      assert.deepEqual(res.json.faces[0].box, { x: 0, y: 0, width: 48, height: 48 });
      assert.equal(res.json.faces[0].faceScore, null, 'no face verifier runs on a crop the client cut');
    }
  });

  it('when the image comes as multipart field "image", then it is classified the same way', async () => {
    const res = await postMultipart(server.url, [{ field: 'image', data: await stripImage(5, 'jpeg') }], 'detect=false');
    assert.equal(res.status, 200);
    assert.equal(res.json.faces[0].label, 'surprise');
  });

  it('when the upload is gzip-encoded or the path differs in case or ends in a slash, then it is answered like any other', async () => {
    const img = await stripImage(3);
    const zipped = await fetch(`${server.url}/v1/predict?detect=false`, {
      method: 'POST',
      headers: { 'content-type': 'image/png', 'content-encoding': 'gzip' },
      body: gzipSync(img),
    });
    assert.equal(zipped.status, 200);
    assert.equal(((await zipped.json()) as any).faces[0].label, 'happy');
    const aliased = await fetch(`${server.url}/V1/Predict/?detect=false`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img });
    assert.equal(aliased.status, 200);
    assert.equal(((await aliased.json()) as any).faces[0].label, 'happy');
    const wrongMethod = await fetch(`${server.url}/v1/predict`);
    assert.equal(wrongMethod.status, 404);
    assert.equal(((await wrongMethod.json()) as any).error.code, 'not_found');
  });

  it('when a prediction succeeds, then headers carry the model version and the request id', async () => {
    const res = await fetch(`${server.url}/v1/predict?detect=false`, {
      method: 'POST',
      headers: { 'content-type': 'image/png', 'x-request-id': 'abc-123' },
      body: await stripImage(2),
    });
    const body = (await res.json()) as any;
    assert.equal(res.headers.get('x-model-version'), 'strips');
    assert.equal(res.headers.get('x-request-id'), 'abc-123');
    assert.equal(body.requestId, 'abc-123');
    assert.equal(body.slot, 'stable');
    for (const k of ['decode', 'detect', 'align', 'infer', 'total']) assert.equal(typeof body.timingsMs[k], 'number');
  });

  it('when the image has no face, then the answer is 200 with an empty list and a reason', async () => {
    const blank = await sharp({ create: { width: 200, height: 150, channels: 3, background: '#7a7a7a' } }).jpeg().toBuffer();
    const res = await postImage(server.url, blank, { contentType: 'image/jpeg' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.faces, []);
    assert.equal(res.json.reason, 'no_face_detected');
    assert.equal(server.ctx.faces.liveMats(), 0);
  });

  it('when a PNG has alpha, 16-bit depth or is CMYK JPEG, then it still decodes to one face with detect=false', async () => {
    const rgba = await sharp({ create: { width: 64, height: 64, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } }).png().toBuffer();
    const deep = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } }).toColourspace('rgb16').png().toBuffer();
    const cmyk = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#aa3311' } }).toColourspace('cmyk').jpeg().toBuffer();
    for (const [name, img] of Object.entries({ rgba, deep, cmyk })) {
      const res = await postImage(server.url, img, { query: 'detect=false' });
      assert.equal(res.status, 200, `${name}: ${JSON.stringify(res.json)}`);
      assert.equal(res.json.faces.length, 1, name);
    }
  });

  it('when /healthz, /readyz and /metrics are read, then they answer with the service state', async () => {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as any).stableVersion, 'strips');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /ferops_inference_requests_total\{slot="stable",version="strips",status="200"\} \d+/);
    assert.match(metrics, /ferops_inference_stage_seconds_bucket\{le="[^"]+",stage="detect"\}/);
    assert.match(metrics, /ferops_inference_predictions_total\{class="surprise",slot="stable"\} [1-9]/);
    assert.match(metrics, /ferops_inference_no_face_total [1-9]/);
    assert.match(metrics, /ferops_inference_confidence_bucket/);
    assert.match(metrics, /ferops_inference_faces_per_image_bucket/);
    // Every face above went through a batch: the batch-size histogram counts at least one run.
    assert.match(metrics, /ferops_inference_batch_faces_count [1-9]/);
  });

  it('when an unknown route is called, then it is a 404 JSON error', async () => {
    const res = await fetch(`${server.url}/v2/nothing`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as any).error.code, 'not_found');
  });
});

describe('inference service: readiness and variants', () => {
  it('when no stable model is configured, then /readyz is 503 and predict answers 503 no_model', async () => {
    const server = await startTestServer({ stableModel: undefined });
    try {
      assert.equal((await fetch(`${server.url}/readyz`)).status, 503);
      const res = await postImage(server.url, await stripImage(1), { query: 'detect=false' });
      assert.equal(res.status, 503);
      assert.equal(res.json.error.code, 'no_model');
      const load = await admin(server.url, 'PUT', '/admin/v1/slots/stable', { source: model('constant-happy'), version: 'v-happy' });
      assert.equal(load.status, 200);
      assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    } finally {
      await server.stop();
    }
  });

  it('when FEROPS_MODEL_VARIANT is int8, then model.int8.onnx is the file loaded', async () => {
    const server = await startTestServer({ modelVariant: 'int8' });
    try {
      const slots = await admin(server.url, 'GET', '/admin/v1/slots');
      assert.equal(slots.status, 200);
      assert.equal(server.ctx.slots.get('stable')!.info.file, model('strips') + '/model.int8.onnx');
    } finally {
      await server.stop();
    }
  });

  it('when FEROPS_MODEL_VARIANT is int8 and a model was exported without int8, then loading it is refused and says why', async () => {
    const server = await startTestServer({ modelVariant: 'int8' });
    try {
      const res = await admin(server.url, 'PUT', '/admin/v1/slots/canary', { source: model('fp32-only'), version: 'fp32-only' });
      assert.equal(res.status, 422);
      assert.equal(res.json.error.code, 'invalid_model');
      assert.match(res.json.error.message, /has no int8 variant .* FEROPS_MODEL_VARIANT=fp32/);
      assert.equal(server.ctx.slots.get('canary'), undefined);
      await assert.rejects(startTestServer({ modelVariant: 'int8', stableModel: model('fp32-only') }), /has no int8 variant/);
    } finally {
      await server.stop();
    }
  });

  it('when the stable model at start-up is invalid, then startServer fails with the reason', async () => {
    await assert.rejects(startTestServer({ stableModel: model('no-labels') }), /labels\.json is missing/);
  });

  it('when the config has a bad value, then startServer fails naming the environment key', async () => {
    await assert.rejects(startTestServer({ batchMax: 0 }), /FEROPS_BATCH_MAX/);
  });
});

describe('inference service: shutdown', () => {
  it('when a request still holds the model (its client went away mid-batch), then stop waits until its sessions are freed', async () => {
    const server = await startTestServer();
    const held = server.ctx.slots.route(); // what a predict in flight holds; its socket may already be gone
    let stopped = false;
    let handedBack = false;
    const stopping = server.stop().then(() => (stopped = true));
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(stopped, false, 'stop resolved while a request held the model');
      assert.equal(held.model.isReleased, false);
      held.model.release();
      handedBack = true;
      await stopping;
      assert.equal(held.model.isReleased, true);
    } finally {
      if (!handedBack) held.model.release(); // a failed assertion must not leave the inference thread running
      await stopping;
    }
  });
});
