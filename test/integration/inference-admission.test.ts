import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, type IncomingMessage, request } from 'node:http';
import { after, afterEach, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { clientAddress } from '../../services/inference/http/client-address';
import type { RunningServer } from '../../services/inference/server';
import { admin, startTestServer } from '../../services/inference/testing/harness';

/**
 * Admission control and rate-limit keying on the real service, over real sockets on 127.0.0.1. Every load here is
 * bounded: a few dozen requests, each socket closed by the test.
 */

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  json: any;
  ms: number;
}

interface Upload {
  /** Sends the rest of the body; resolves with the answer. */
  finish(): Promise<Answer>;
  /** Drops the connection mid-body, as a client that gives up. */
  abort(): void;
  /** The answer, whenever it comes (an early 503 comes before the body is finished). */
  answer: Promise<Answer>;
}

/** Every upload's socket is closed after each test, so a failing test cannot hold the server open. */
const sockets: Upload[] = [];
afterEach(() => sockets.splice(0).forEach((u) => u.abort()));

/** POST /v1/predict on its own socket, sending `sendFirst` bytes of `body` now and the rest on `finish()`. */
function upload(url: string, body: Buffer, opts: { sendFirst?: number; headers?: Record<string, string>; chunked?: boolean; path?: string } = {}): Upload {
  const { port } = new URL(url);
  const started = performance.now();
  const req = request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: opts.path ?? '/v1/predict?detect=false',
    agent: false,
    headers: { 'content-type': 'image/png', ...(opts.chunked ? {} : { 'content-length': String(body.length) }), ...opts.headers },
  });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.once('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, json: text ? JSON.parse(text) : undefined, ms: performance.now() - started });
      });
    });
    req.once('error', reject);
  });
  answer.catch(() => undefined); // aborted uploads reject; the tests that abort do not wait for an answer
  const first = opts.sendFirst ?? body.length;
  req.write(body.subarray(0, first));
  if (first === body.length) req.end();
  const u: Upload = {
    answer,
    finish: () => {
      req.end(body.subarray(first));
      return answer;
    },
    abort: () => req.destroy(),
  };
  sockets.push(u);
  return u;
}

const post = (url: string, body: Buffer, headers?: Record<string, string>) => upload(url, body, { headers }).answer;

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const metric = async (url: string, name: string): Promise<number> => {
  const line = (await (await fetch(`${url}/metrics`)).text()).split('\n').find((l) => l.startsWith(name));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
};

function assertOverloaded(a: Answer, limit: RegExp): void {
  assert.equal(a.status, 503);
  assert.equal(a.headers['retry-after'], '1');
  assert.equal(a.json.error.code, 'overloaded');
  assert.match(a.json.error.message, limit);
}

describe('inference admission control', () => {
  let crop: Buffer;
  /** Incompressible, so its PNG is ~3 bytes per pixel: bodies dominate what a request holds. */
  let noise: Buffer;
  before(async () => {
    crop = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#777' } }).png().toBuffer();
    const px = Buffer.alloc(128 * 128 * 3);
    for (let i = 0; i < px.length; i++) px[i] = (i * 2654435761) >>> 24;
    noise = await sharp(px, { raw: { width: 128, height: 128, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
  });

  describe('with FEROPS_MAX_INFLIGHT=3', () => {
    let server: RunningServer;
    before(async () => {
      server = await startTestServer({ maxInflight: 3 });
    });
    after(() => server.stop());

    it('when slow uploads hold every slot, then the excess gets a fast 503 overloaded with Retry-After, the slow ones still succeed, and the counters drain', async () => {
      const held = [0, 1, 2].map(() => upload(server.url, noise, { sendFirst: noise.length >> 1 }));
      await until('three uploads are admitted', () => server.ctx.admission.inflight === 3);

      const excess = await Promise.all(Array.from({ length: 20 }, () => post(server.url, crop)));
      for (const a of excess) assertOverloaded(a, /FEROPS_MAX_INFLIGHT/);
      // Refused at once, not after waiting behind the held uploads (which stay open up to the 30 s request timeout);
      // the bound is wide because 20 connections on a busy 2-core runner can take a while just to be accepted.
      assert.ok(Math.max(...excess.map((a) => a.ms)) < 10_000, `refusals took up to ${Math.max(...excess.map((a) => a.ms)).toFixed(0)} ms`);
      const fb = await fetch(`${server.url}/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.equal(fb.status, 503, '/v1/feedback shares the in-flight limit');
      assert.equal(fb.headers.get('retry-after'), '1');
      assert.equal(((await fb.json()) as any).error.code, 'overloaded');
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'probes and /metrics are not admission-controlled');
      assert.equal(await metric(server.url, 'ferops_inference_inflight_requests'), 3);

      for (const a of await Promise.all(held.map((u) => u.finish()))) assert.equal(a.status, 200);
      await until('the counters drain', () => server.ctx.admission.inflight === 0 && server.ctx.admission.bufferedBytes === 0);
      assert.equal(await metric(server.url, 'ferops_inference_inflight_requests'), 0);
      assert.equal(await metric(server.url, 'ferops_inference_buffered_bytes'), 0);
      assert.equal(await metric(server.url, 'ferops_inference_shed_total{reason="inflight"}'), 21);
      assert.equal((await post(server.url, crop)).status, 200, 'capacity is back');
    });

    it('when a burst of 40 requests arrives at once, then each is answered 200 or 503 with Retry-After, none times out, and the counters drain', async () => {
      const answers = await Promise.all(Array.from({ length: 40 }, () => post(server.url, crop)));
      const ok = answers.filter((a) => a.status === 200);
      const shed = answers.filter((a) => a.status !== 200);
      for (const a of shed) assertOverloaded(a, /FEROPS_MAX_INFLIGHT/);
      assert.ok(ok.length >= 3, `${ok.length} of 40 answered`);
      await until('the counters drain', () => server.ctx.admission.inflight === 0 && server.ctx.admission.bufferedBytes === 0);
    });
  });

  describe('with FEROPS_MAX_BUFFERED_BYTES just under three uploads', () => {
    let server: RunningServer;
    before(async () => {
      server = await startTestServer({ maxInflight: 50, maxBufferedBytes: Math.floor(noise.length * 2.8) });
    });
    after(() => server.stop());

    it('when declared bodies would pass the budget, then the upload is refused with 503 before its body is read, and a small one still fits', async () => {
      const held = [0, 1].map(() => upload(server.url, noise, { sendFirst: 1024 }));
      await until('two uploads hold their declared bodies', () => server.ctx.admission.bufferedBytes === 2 * noise.length);

      const third = upload(server.url, noise, { sendFirst: 1024 });
      assertOverloaded(await third.answer, /FEROPS_MAX_BUFFERED_BYTES/);
      third.abort();
      assert.equal((await post(server.url, crop)).status, 200, 'the budget is bytes, not requests');

      // One at a time: an upload that has arrived also holds its decoded pixels (x2), which fit beside the other's body.
      for (const u of held) assert.equal((await u.finish()).status, 200);
      await until('the counters drain', () => server.ctx.admission.inflight === 0 && server.ctx.admission.bufferedBytes === 0);
      assert.equal(await metric(server.url, 'ferops_inference_shed_total{reason="buffered_bytes"}'), 1);
    });
  });

  describe('with clients that abort', () => {
    let server: RunningServer;
    before(async () => {
      server = await startTestServer({ maxInflight: 20 });
    });
    after(() => server.stop());

    it('when clients abort mid-upload (raw, chunked and multipart), then in-flight and buffered bytes return to 0', async () => {
      const boundary = 'ferops-test-boundary';
      const multipart = Buffer.concat([
        Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="image"; filename="a.png"\r\ncontent-type: image/png\r\n\r\n`),
        noise,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const uploads = [
        ...[0, 1, 2, 3].map(() => upload(server.url, noise, { sendFirst: noise.length >> 1 })),
        ...[0, 1].map(() => upload(server.url, noise, { sendFirst: noise.length >> 1, chunked: true })),
        ...[0, 1].map(() => upload(server.url, multipart, { sendFirst: multipart.length >> 1, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } })),
      ];
      await until('eight uploads are admitted', () => server.ctx.admission.inflight === 8);
      assert.ok(server.ctx.admission.bufferedBytes >= 8 * (noise.length >> 1));
      assert.ok(await metric(server.url, 'ferops_inference_buffered_bytes') > 0);

      for (const u of uploads) u.abort();
      await until('the counters return to 0', () => server.ctx.admission.inflight === 0 && server.ctx.admission.bufferedBytes === 0, 5000);
      assert.equal(await metric(server.url, 'ferops_inference_inflight_requests'), 0);
      assert.equal(await metric(server.url, 'ferops_inference_buffered_bytes'), 0);
      assert.equal((await post(server.url, crop)).status, 200);
    });
  });

  describe('rate limits keyed by client', () => {
    let server: RunningServer;
    before(async () => {
      server = await startTestServer({ rateLimitRps: 1, feedbackRateLimitRps: 1, adminRateLimitRps: 1, trustedProxies: ['127.0.0.1'] });
    });
    after(() => server.stop());

    it('when the peer is a trusted proxy, then each client it names in X-Forwarded-For has its own budget', async () => {
      const as = (client: string) => ({ 'x-forwarded-for': `198.51.100.7, ${client}` });
      assert.equal((await post(server.url, crop, as('203.0.113.1'))).status, 200);
      assert.equal((await post(server.url, crop, as('203.0.113.2'))).status, 200);
      const again = await post(server.url, crop, { 'x-forwarded-for': `198.51.100.8, 203.0.113.1` });
      assert.equal(again.status, 429, 'the hop the proxy added counts, not what the client wrote to its left');
      assert.equal(again.json.error.code, 'rate_limited');
      assert.ok(Number(again.headers['retry-after']) >= 1);
    });

    it('when /v1/feedback and /admin are called faster than their limits, then each answers 429 with Retry-After on its own budget', async () => {
      const client = { 'x-forwarded-for': '203.0.113.50' };
      const feedback = () => fetch(`${server.url}/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json', ...client }, body: '{}' });
      assert.equal((await feedback()).status, 400);
      const limited = await feedback();
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      assert.equal(((await limited.json()) as any).error.code, 'rate_limited');

      const slots = () => fetch(`${server.url}/admin/v1/slots`, { headers: { ...client } });
      assert.equal((await slots()).status, 401, 'a separate budget: feedback spent none of it');
      const adminLimited = await slots();
      assert.equal(adminLimited.status, 429, 'limited before the token is checked');
      assert.ok(Number(adminLimited.headers.get('retry-after')) >= 1);
      assert.equal((await post(server.url, crop, client)).status, 200, 'predict has its own budget too');
    });
  });

  describe('without trusted proxies', () => {
    let server: RunningServer;
    before(async () => {
      server = await startTestServer({ rateLimitRps: 1 });
    });
    after(() => server.stop());

    it('when clients write X-Forwarded-For, then it is ignored: all of them are the socket address', async () => {
      assert.equal((await post(server.url, crop, { 'x-forwarded-for': '203.0.113.1' })).status, 200);
      assert.equal((await post(server.url, crop, { 'x-forwarded-for': '203.0.113.2' })).status, 429);
      assert.equal((await admin(server.url, 'GET', '/admin/v1/slots')).status, 200, 'admin has no limit unless configured');
    });
  });
});

describe('clientAddress', () => {
  const req = (remoteAddress: string, xff?: string | string[]) => ({ socket: { remoteAddress }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

  it('when no proxy is trusted, then the peer is the client and an IPv4-mapped peer is plain IPv4', () => {
    const of = clientAddress([]);
    assert.equal(of(req('::ffff:192.0.2.1', '203.0.113.1')), '192.0.2.1');
    assert.equal(of(req('2001:db8::1', '203.0.113.1')), '2001:db8::1');
  });

  it('when proxies are trusted by address and CIDR, then the right-most untrusted hop is the client', () => {
    const of = clientAddress(['10.0.0.0/8', 'fd00::/8', '192.0.2.1']);
    assert.equal(of(req('10.1.2.3', '203.0.113.9')), '203.0.113.9');
    assert.equal(of(req('10.1.2.3', ['198.51.100.1, 203.0.113.9', '10.9.9.9'])), '203.0.113.9', 'several headers are one list');
    assert.equal(of(req('fd00::5', '2001:db8::7, fd00::6')), '2001:db8::7');
    assert.equal(of(req('192.0.2.2', '203.0.113.9')), '192.0.2.2', 'an untrusted peer is the client, whatever it forwards');
    assert.equal(of(req('10.1.2.3')), '10.1.2.3', 'a trusted peer that forwards nothing is the client');
    assert.equal(of(req('10.1.2.3', '203.0.113.9, not-an-ip')), '10.1.2.3', 'garbage stops the walk at the proxy that sent it');
    assert.equal(of(req('10.1.2.3', '10.0.0.1, 10.0.0.2')), '10.0.0.1', 'only proxies: the left-most');
  });
});
