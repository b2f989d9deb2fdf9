import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { imageBombs } from '../fixtures/image-bombs';
import { bombPng } from '../helpers/png-bytes';
import { AppError } from '../../services/inference/errors';
import { MIN_IMAGE_SIDE, decodeGray } from '../../services/inference/runtime/decode';

const MAX_PIXELS = 40_000_000;

/**
 * The decoder before the header sniffer (sharp metadata, then sharp decode), kept here as the oracle: the one-call
 * decoder must answer every input with the same error code and status, or the same pixels.
 */
async function twoCallDecode(input: Buffer, maxPixels: number): Promise<{ data: Buffer; width: number; height: number }> {
  if (input.length === 0) throw new AppError(400, 'empty_body', 'empty');
  let meta;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw classifyLikeBefore(err);
  }
  if (!meta.format || !['jpeg', 'png', 'webp', 'gif'].includes(meta.format)) throw new AppError(415, 'unsupported_media_type', 'x');
  const [w, h] = [meta.width ?? 0, meta.height ?? 0];
  if (w * h > maxPixels) throw new AppError(413, 'too_many_pixels', 'x');
  if (Math.min(w, h) < MIN_IMAGE_SIDE) throw new AppError(422, 'image_too_small', 'x');
  try {
    const { data, info } = await sharp(input, { limitInputPixels: maxPixels, failOn: 'truncated', pages: 1 })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('b-w')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  } catch (err) {
    throw classifyLikeBefore(err);
  }
}

function classifyLikeBefore(err: unknown): AppError {
  const msg = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(msg)) return new AppError(413, 'too_many_pixels', 'x');
  if (/unsupported image format/i.test(msg)) return new AppError(415, 'unsupported_media_type', 'x');
  return new AppError(400, 'invalid_image', 'x');
}

type Outcome = string;
async function outcome(fn: () => Promise<{ data: Buffer; width: number; height: number }>): Promise<Outcome> {
  try {
    const img = await fn();
    return `ok ${img.width}x${img.height} ${img.data.toString('base64').slice(0, 64)} ${img.data.length}`;
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return `${err.status} ${err.code}`;
  }
}

function noise(n: number, seed: number): Buffer {
  let s = seed;
  return Buffer.from(new Uint8Array(n).map(() => (s = (s * 1103515245 + 12345) & 0x7fffffff) & 0xff));
}

async function corpus(): Promise<[string, Buffer][]> {
  const base = sharp({ create: { width: 96, height: 80, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } });
  const seeds: Record<string, Buffer> = {
    png: await base.clone().png().toBuffer(),
    jpeg: await base.clone().jpeg().toBuffer(),
    'jpeg exif 6': await base.clone().withMetadata({ orientation: 6 }).jpeg().toBuffer(),
    webp: await base.clone().webp().toBuffer(),
    'webp lossless': await base.clone().webp({ lossless: true }).toBuffer(),
    gif: await base.clone().gif().toBuffer(),
    // The crops the fast PNG path takes: gray, and gray saved as RGB.
    'png gray': await base.clone().toColourspace('b-w').png().toBuffer(),
    'png gray as rgb': await sharp(await base.clone().toColourspace('b-w').raw().toBuffer(), { raw: { width: 96, height: 80, channels: 1 } }).toColourspace('srgb').png().toBuffer(),
    'png rgba': await sharp({ create: { width: 48, height: 48, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } }).png().toBuffer(),
  };
  const cases: [string, Buffer][] = [];
  for (const [fmt, buf] of Object.entries(seeds)) {
    cases.push([`${fmt} whole`, buf]);
    for (const frac of [0.05, 0.2, 0.4, 0.6, 0.8, 0.95]) cases.push([`${fmt} truncated at ${frac}`, buf.subarray(0, Math.floor(buf.length * frac))]);
    for (const n of [1, 4, 8, 16, 24, 32, 40]) cases.push([`${fmt} first ${n} bytes`, buf.subarray(0, n)]);
    const noMagic = Buffer.from(buf);
    noMagic.fill(0, 0, 4);
    cases.push([`${fmt} magic zeroed`, noMagic]);
    cases.push([`${fmt} header then noise`, Buffer.concat([buf.subarray(0, 12), noise(4000, fmt.length)])]);
    cases.push([`${fmt} header (32 bytes) then noise`, Buffer.concat([buf.subarray(0, 32), noise(4000, fmt.length)])]);
    const fmtName = fmt.split(' ')[0] as 'png';
    cases.push([`${fmt} 1x1`, await sharp({ create: { width: 1, height: 1, channels: 3, background: '#fff' } }).toFormat(fmtName).toBuffer()]);
    // Sides at the limit: a size misread by even one pixel changes the answer.
    for (const [width, height] of [[4, 300], [8, 7], [7, 8], [8, 8]]) {
      cases.push([`${fmt} ${width}x${height}`, await sharp({ create: { width, height, channels: 3, background: '#123' } }).toFormat(fmtName).toBuffer()]);
    }
  }
  for (const [w, h] of [[20000, 20000], [100000, 100000], [7000, 7000], [0, 10], [6325, 6325]]) cases.push([`bomb png ${w}x${h}`, bombPng(w, h)]);
  for (const n of [1, 2, 3, 7, 16, 64, 512, 4096, 65536]) cases.push([`random ${n} bytes`, noise(n, n)]);
  cases.push(['tiff', await base.clone().tiff().toBuffer()]);
  cases.push(['svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>')]);
  cases.push(['empty', Buffer.alloc(0)]);
  return cases;
}

describe('decodeGray with the header sniffer', () => {
  it('when given the bad-input corpus and good images, then every outcome equals the two-call decoder', async () => {
    const diffs: string[] = [];
    const cases = await corpus();
    // The default limit, and one just under the 96x80 seeds, so their pixel count decides the answer.
    for (const maxPixels of [MAX_PIXELS, 96 * 80 - 1]) {
      for (const [name, buf] of cases) {
        const [now, before] = [await outcome(() => decodeGray(buf, maxPixels)), await outcome(() => twoCallDecode(buf, maxPixels))];
        if (now !== before) diffs.push(`${name} (limit ${maxPixels}): ${now} vs before ${before}`);
      }
    }
    assert.deepEqual(diffs, []);
  });

  it('when a PNG declares more pixels than the limit, then too_many_pixels before any pixel is decoded', async () => {
    await assert.rejects(decodeGray(bombPng(100000, 100000), MAX_PIXELS), (err: AppError) => err.code === 'too_many_pixels' && /100000x100000/.test(err.message));
  });

  it('when a bomb of any accepted format is decoded, then it is refused with its status, code and reason', async () => {
    const wrong: string[] = [];
    for (const bomb of await imageBombs()) {
      const got = await decodeGray(bomb.body, MAX_PIXELS).then(
        (img) => `ok ${img.width}x${img.height}`,
        (err: AppError) => `${err.status} ${err.code} ${err.message}`,
      );
      if (!got.startsWith(`${bomb.status} ${bomb.code} `) || !bomb.message.test(got)) wrong.push(`${bomb.name}: ${got}`);
    }
    assert.deepEqual(wrong, []);
  });
});
