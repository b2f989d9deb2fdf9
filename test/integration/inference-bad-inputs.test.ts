import assert from 'node:assert/strict';
import { brotliCompressSync, constants as zlibConstants, deflateSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { imageBombs } from '../fixtures/image-bombs';
import { bombPng } from '../helpers/png-bytes';
import type { RunningServer } from '../../services/inference/server';
import { startTestServer } from '../../services/inference/testing/harness';

/**
 * The bad-input corpus, generated at test time: every case must come back as a 4xx JSON error with a code, the
 * service must stay up, and no opencv Mat may leak.
 */

interface BadCase {
  name: string;
  body?: Buffer | FormData | string;
  contentType?: string | null;
  /** content-encoding header */
  encoding?: string;
  query?: string;
  /** Exact code when the case pins one; otherwise any 4xx with a code passes. */
  code?: string;
  /** Exact status and a pattern for the message, for the cases that pin them. */
  status?: number;
  message?: RegExp;
}

const BODY_LIMIT = 200 * 1024;

/** Bodies a few hundred KB at most whose content-encoding expands them to 100 MB, far past the body limit. */
function encodedBombs(): BadCase[] {
  const zeros = Buffer.alloc(100 * 1024 * 1024);
  const encoded = {
    gzip: gzipSync(zeros),
    deflate: deflateSync(zeros),
    br: brotliCompressSync(zeros, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4 } }),
  };
  return Object.entries(encoded).map(([encoding, body]) => {
    assert.ok(body.length < BODY_LIMIT, `${encoding} bomb fits the body limit`);
    const message = /larger than FEROPS_MAX_BODY_BYTES/;
    return { name: `${encoding} body inflating to 100 MB`, body, contentType: 'image/png', encoding, status: 413, code: 'payload_too_large', message };
  });
}

/** Deterministic pseudo-random bytes (xorshift) so a failure reproduces. */
function noise(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function gifHeader(w: number, h: number): Buffer {
  const b = Buffer.from('GIF89a\0\0\0\0\0\0\0', 'latin1');
  b.writeUInt16LE(w, 6);
  b.writeUInt16LE(h, 8);
  return b;
}

function form(parts: { field: string; data?: Buffer; value?: string }[]): FormData {
  const f = new FormData();
  for (const p of parts) {
    if (p.data) f.append(p.field, new Blob([p.data]), 'upload.bin');
    else f.append(p.field, p.value ?? '');
  }
  return f;
}

async function buildCorpus(): Promise<BadCase[]> {
  const base = sharp({ create: { width: 96, height: 80, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } });
  const seeds: Record<string, Buffer> = {
    png: await base.clone().png().toBuffer(),
    jpeg: await base.clone().jpeg().toBuffer(),
    webp: await base.clone().webp().toBuffer(),
    gif: await base.clone().gif().toBuffer(),
  };
  const cases: BadCase[] = [];
  for (const [fmt, buf] of Object.entries(seeds)) {
    const type = `image/${fmt}`;
    for (const frac of [0.05, 0.2, 0.4, 0.6, 0.8, 0.95]) {
      cases.push({ name: `${fmt} truncated at ${frac * 100}%`, body: buf.subarray(0, Math.floor(buf.length * frac)), contentType: type });
    }
    for (const n of [1, 4, 8, 16, 32]) cases.push({ name: `${fmt} first ${n} bytes`, body: buf.subarray(0, n), contentType: type });
    const noMagic = Buffer.from(buf);
    noMagic.fill(0, 0, 4);
    cases.push({ name: `${fmt} magic zeroed`, body: noMagic, contentType: type, code: 'unsupported_media_type' });
    cases.push({ name: `${fmt} header then noise`, body: Buffer.concat([buf.subarray(0, 12), noise(4000, fmt.length)]), contentType: type });
    cases.push({ name: `${fmt} 1x1`, body: await sharp({ create: { width: 1, height: 1, channels: 3, background: '#fff' } }).toFormat(fmt as 'png').toBuffer(), contentType: type, code: 'image_too_small' });
    cases.push({ name: `${fmt} 4x300`, body: await sharp({ create: { width: 4, height: 300, channels: 3, background: '#123' } }).toFormat(fmt as 'png').toBuffer(), contentType: type, code: 'image_too_small' });
  }
  for (const n of [1, 2, 3, 7, 16, 64, 100, 255, 512, 1000, 1024, 2048, 4096, 8192, 10000, 20000, 50000, 65536, 100000, 150000]) {
    cases.push({ name: `random ${n} bytes`, body: noise(n, n), contentType: 'image/jpeg' });
  }
  cases.push(
    { name: 'empty raw body', body: Buffer.alloc(0), contentType: 'image/png', code: 'empty_body' },
    { name: 'no body, no content type', contentType: null, code: 'empty_body' },
    { name: 'text/plain', body: 'hello', contentType: 'text/plain', code: 'unsupported_media_type' },
    { name: 'application/json', body: '{"image":"x"}', contentType: 'application/json', code: 'unsupported_media_type' },
    { name: 'form-urlencoded', body: 'image=abc', contentType: 'application/x-www-form-urlencoded', code: 'unsupported_media_type' },
    { name: 'html as image/png', body: '<html><body>not an image</body></html>', contentType: 'image/png', code: 'unsupported_media_type' },
    { name: 'svg (not accepted)', body: '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>', contentType: 'image/svg+xml', code: 'unsupported_media_type' },
    { name: 'tiff (not accepted)', body: await base.clone().tiff().toBuffer(), contentType: 'image/tiff', code: 'unsupported_media_type' },
    { name: 'avif/heif (not accepted)', body: await base.clone().heif({ compression: 'av1' }).toBuffer().catch(() => noise(500, 9)), contentType: 'image/avif' },
    { name: 'bomb png 20000x20000', body: bombPng(20000, 20000), contentType: 'image/png', code: 'too_many_pixels' },
    { name: 'bomb png 7000x7000 (49 Mpx)', body: bombPng(7000, 7000), contentType: 'image/png', code: 'too_many_pixels' },
    { name: 'gif header 65535x65535', body: gifHeader(65535, 65535), contentType: 'image/gif' },
    { name: 'bad detect query', body: seeds.png, contentType: 'image/png', query: 'detect=maybe', code: 'invalid_request' },
    { name: 'detect given twice', body: seeds.png, contentType: 'image/png', query: 'detect=true&detect=false', code: 'invalid_request' },
    { name: 'multipart without a file', body: form([{ field: 'note', value: 'hi' }]), code: 'missing_file' },
    { name: 'multipart with two files', body: form([{ field: 'image', data: seeds.png }, { field: 'image', data: seeds.png }]), code: 'too_many_files' },
    { name: 'multipart with the wrong field', body: form([{ field: 'photo', data: seeds.png }]), code: 'unexpected_field' },
    { name: 'multipart with an empty file', body: form([{ field: 'image', data: Buffer.alloc(0) }]), code: 'empty_body' },
    { name: 'multipart with random bytes', body: form([{ field: 'image', data: noise(3000, 77) }]), code: 'unsupported_media_type' },
    { name: 'multipart with truncated jpeg', body: form([{ field: 'image', data: seeds.jpeg.subarray(0, 300) }]) },
    { name: 'multipart without boundary', body: 'garbage', contentType: 'multipart/form-data', code: 'invalid_multipart' },
    { name: 'multipart cut short', body: '--XyZ\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n\x89PNG', contentType: 'multipart/form-data; boundary=XyZ', code: 'invalid_multipart' },
    { name: 'oversized raw body', body: noise(300 * 1024, 5), contentType: 'image/png', code: 'payload_too_large' },
    { name: 'unknown content-encoding', body: seeds.png, contentType: 'image/png', encoding: 'compress', code: 'unsupported_media_type' },
    { name: 'gzip that is not gzip', body: noise(500, 11), contentType: 'image/png', encoding: 'gzip', code: 'invalid_encoding' },
    { name: 'gzip bomb (300 KB of zeros in 300 bytes)', body: gzipSync(Buffer.alloc(300 * 1024)), contentType: 'image/png', encoding: 'gzip', code: 'payload_too_large' },
    { name: 'oversized multipart file', body: form([{ field: 'image', data: noise(300 * 1024, 6) }]), code: 'payload_too_large' },
  );
  const animated = await sharp({ create: { width: 64, height: 128, channels: 3, background: '#888' } }).gif().toBuffer();
  cases.push({ name: 'animated-looking gif truncated', body: animated.subarray(0, 40), contentType: 'image/gif' });
  for (const bomb of await imageBombs()) cases.push({ ...bomb, name: `bomb ${bomb.name}` });
  cases.push(...encodedBombs());
  return cases;
}

describe('inference bad-input corpus', () => {
  let server: RunningServer;
  let corpus: BadCase[];
  before(async () => {
    server = await startTestServer({ maxBodyBytes: BODY_LIMIT });
    corpus = await buildCorpus();
  });
  after(() => server.stop());

  it('when >= 100 bad inputs are posted, then each is a 4xx JSON error with a code and nothing leaks', async () => {
    assert.ok(corpus.length >= 100, `corpus has ${corpus.length} cases`);
    const failures: string[] = [];
    const codes = new Map<string, number>();
    for (const c of corpus) {
      const headers: Record<string, string> = {};
      if (c.contentType) headers['content-type'] = c.contentType;
      if (c.encoding) headers['content-encoding'] = c.encoding;
      const res = await fetch(`${server.url}/v1/predict${c.query ? `?${c.query}` : ''}`, {
        method: 'POST',
        headers: c.body instanceof FormData ? {} : headers,
        body: c.body as RequestInit['body'],
      });
      const text = await res.text();
      let body: any;
      try {
        body = JSON.parse(text);
      } catch {
        failures.push(`${c.name}: non-JSON answer ${res.status} ${text.slice(0, 80)}`);
        continue;
      }
      codes.set(body?.error?.code, (codes.get(body?.error?.code) ?? 0) + 1);
      if (res.status < 400 || res.status >= 500) failures.push(`${c.name}: status ${res.status} ${text.slice(0, 160)}`);
      else if (typeof body?.error?.code !== 'string' || typeof body.error.message !== 'string' || !body.error.requestId) {
        failures.push(`${c.name}: error body without code/message/requestId: ${text.slice(0, 120)}`);
      } else if (c.code && body.error.code !== c.code) failures.push(`${c.name}: code ${body.error.code}, expected ${c.code}`);
      else if (c.status && res.status !== c.status) failures.push(`${c.name}: status ${res.status}, expected ${c.status}`);
      else if (c.message && !c.message.test(body.error.message)) failures.push(`${c.name}: message "${body.error.message}" does not match ${c.message}`);
    }
    assert.deepEqual(failures, []);
    // The corpus must exercise the decoder, not only the content-type gate.
    assert.ok((codes.get('invalid_image') ?? 0) >= 20, `codes seen: ${JSON.stringify([...codes])}`);
    assert.equal(server.ctx.faces.liveMats(), 0);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  it('when an animated GIF is posted, then its first frame is used and the answer is 200', async () => {
    // Frame 1 lights strip 3 (the strips model says "happy"), the others strips 0 and 6.
    const edges = [0, 6, 13, 20, 27, 34, 41, 48];
    const frame = (k: number) => {
      const px = Buffer.alloc(48 * 48 * 3);
      for (let y = 0; y < 48; y++) for (let x = edges[k]; x < edges[k + 1]; x++) px.fill(255, (y * 48 + x) * 3, (y * 48 + x) * 3 + 3);
      return sharp(px, { raw: { width: 48, height: 48, channels: 3 } }).png().toBuffer();
    };
    const gif = await sharp([await frame(3), await frame(0), await frame(6)], { join: { animated: true } }).gif({ loop: 0 }).toBuffer();
    assert.equal((await sharp(gif, { pages: -1 }).metadata()).pages, 3, 'fixture really is animated');
    const res = await fetch(`${server.url}/v1/predict?detect=false`, { method: 'POST', headers: { 'content-type': 'image/gif' }, body: gif });
    assert.equal(res.status, 200);
    const body = (await res.json()) as any;
    assert.deepEqual(body.faces[0].box, { x: 0, y: 0, width: 48, height: 48 });
    assert.equal(body.faces[0].label, 'happy');
  });

  it('when the rate limit is exceeded, then 429 rate_limited with retry-after', async () => {
    const limited = await startTestServer({ rateLimitRps: 2 });
    try {
      const img = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#444' } }).png().toBuffer();
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i++) {
        const r = await fetch(`${limited.url}/v1/predict?detect=false`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img });
        statuses.push(r.status);
        if (r.status === 429) {
          retryAfter = r.headers.get('retry-after');
          assert.equal(((await r.json()) as any).error.code, 'rate_limited');
        } else await r.arrayBuffer();
      }
      assert.deepEqual(statuses.slice(0, 2), [200, 200]);
      assert.ok(statuses.includes(429));
      assert.ok(retryAfter);
    } finally {
      await limited.stop();
    }
  });
});
