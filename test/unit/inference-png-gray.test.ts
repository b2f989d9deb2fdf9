import assert from 'node:assert/strict';
import { crc32, deflateSync } from 'node:zlib';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { bombPng } from '../helpers/png-bytes';
import { AppError } from '../../services/inference/errors';
import { PNG_FAST_MAX_PIXELS, decodePlainGrayPng } from '../../services/inference/runtime/png-gray';

/** What the service's sharp pipeline makes of an image (decode.ts without the fast path). */
async function viaSharp(buf: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(buf, { failOn: 'truncated', pages: 1 })
    .rotate()
    .flatten({ background: '#ffffff' })
    .toColourspace('b-w')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function chunk(type: string, data: Buffer, badCrc = false): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE((crc32(Buffer.concat([head.subarray(4), data])) ^ (badCrc ? 1 : 0)) >>> 0);
  return Buffer.concat([head, data, crc]);
}

function ihdr(w: number, h: number, colour: number, depth = 8, interlace = 0): Buffer {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(w, 0);
  d.writeUInt32BE(h, 4);
  d.set([depth, colour, 0, 0, interlace], 8);
  return chunk('IHDR', d);
}

/** Filters each row with `filterOf(y)` (0-4), exactly as a PNG encoder would. */
function filterRows(pixels: Buffer, w: number, h: number, bpp: number, filterOf: (y: number) => number): Buffer {
  const stride = w * bpp;
  const out = Buffer.alloc(h * (stride + 1));
  for (let y = 0; y < h; y++) {
    const f = filterOf(y);
    out[y * (stride + 1)] = f;
    for (let x = 0; x < stride; x++) {
      const cur = pixels[y * stride + x];
      const a = x >= bpp ? pixels[y * stride + x - bpp] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      const c = x >= bpp && y > 0 ? pixels[(y - 1) * stride + x - bpp] : 0;
      const p = a + b - c;
      const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
      const pred = [0, a, b, (a + b) >>> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][f];
      out[y * (stride + 1) + 1 + x] = (cur - pred) & 0xff;
    }
  }
  return out;
}

const SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function png(pixels: Buffer, w: number, h: number, opts: { colour?: number; filterOf?: (y: number) => number; extra?: Buffer[]; split?: number } = {}): Buffer {
  const colour = opts.colour ?? 0;
  const bpp = colour === 2 ? 3 : 1;
  const z = deflateSync(filterRows(pixels, w, h, bpp, opts.filterOf ?? ((y) => y % 5)));
  const parts = opts.split ? [z.subarray(0, opts.split), z.subarray(opts.split)] : [z];
  return Buffer.concat([SIG, ihdr(w, h, colour), ...(opts.extra ?? []), ...parts.map((p) => chunk('IDAT', p)), chunk('IEND', Buffer.alloc(0))]);
}

function noise(n: number, seed: number): Buffer {
  let s = seed;
  return Buffer.from(new Uint8Array(n).map(() => (s = (s * 1103515245 + 12345) & 0x7fffffff) >> 8));
}

const gray3 = (g: Buffer) => Buffer.from(Array.from(g).flatMap((v) => [v, v, v]));

describe('plain gray PNG decoder', () => {
  it('when rows use every filter type, then the pixels are the original ones and equal sharp', async () => {
    const [w, h] = [48, 48];
    const pixels = noise(w * h, 7);
    for (const f of [0, 1, 2, 3, 4]) {
      for (const [colour, body] of [[0, pixels], [2, gray3(pixels)]] as const) {
        const file = png(body, w, h, { colour, filterOf: () => f });
        const got = decodePlainGrayPng(file);
        assert.ok(got, `filter ${f} colour ${colour} decoded`);
        assert.deepEqual(got.data, pixels, `filter ${f} colour ${colour}`);
        assert.deepEqual(got, await viaSharp(file), `filter ${f} colour ${colour} vs sharp`);
      }
    }
  });

  it('when all 256 gray levels come as gray or as equal RGB, then the output equals sharp for each level', async () => {
    const levels = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    for (const file of [png(levels, 16, 16), png(gray3(levels), 16, 16, { colour: 2 })]) {
      const got = decodePlainGrayPng(file);
      assert.ok(got);
      assert.deepEqual(got.data, levels);
      assert.deepEqual(got, await viaSharp(file));
    }
  });

  it('when sharp itself encodes gray crops (any compression, adaptive filters), then the output equals sharp', async () => {
    for (const [w, h, level] of [[48, 48, 6], [48, 48, 0], [64, 32, 9], [255, 256, 6], [8, 8, 1]] as const) {
      const file = await sharp(noise(w * h, w + h), { raw: { width: w, height: h, channels: 1 } }).png({ compressionLevel: level, adaptiveFiltering: true }).toBuffer();
      const got = decodePlainGrayPng(file);
      assert.ok(got, `${w}x${h} level ${level} decoded`);
      assert.deepEqual(got, await viaSharp(file));
    }
  });

  it('when text/time/pHYs chunks or split IDATs are present, then they are read past', () => {
    const pixels = noise(48 * 48, 3);
    const text = chunk('tEXt', Buffer.from('Comment\0hello', 'latin1'));
    assert.deepEqual(decodePlainGrayPng(png(pixels, 48, 48, { extra: [text, chunk('pHYs', Buffer.alloc(9))] }))?.data, pixels);
    assert.deepEqual(decodePlainGrayPng(png(pixels, 48, 48, { split: 100 }))?.data, pixels);
  });

  it('when anything could make libvips do more than copy samples, then it declines (sharp decides)', async () => {
    const pixels = noise(48 * 48, 5);
    const good = png(pixels, 48, 48);
    const colourful = gray3(pixels);
    colourful[3 * 100 + 1] ^= 1; // one pixel no longer gray
    const declines: Record<string, Buffer> = {
      'rgb with a colour pixel': png(colourful, 48, 48, { colour: 2 }),
      'rgba': await sharp({ create: { width: 48, height: 48, channels: 4, background: { r: 9, g: 9, b: 9, alpha: 0.5 } } }).png().toBuffer(),
      'palette': await sharp(noise(48 * 48 * 3, 1), { raw: { width: 48, height: 48, channels: 3 } }).png({ palette: true }).toBuffer(),
      '16-bit': await sharp(noise(48 * 48, 1), { raw: { width: 48, height: 48, channels: 1 } }).toColourspace('grey16').png().toBuffer(),
      interlaced: await sharp(noise(48 * 48, 1), { raw: { width: 48, height: 48, channels: 1 } }).png({ progressive: true }).toBuffer(),
      gAMA: png(pixels, 48, 48, { extra: [chunk('gAMA', Buffer.from([0, 0, 0xb1, 0x8f]))] }),
      iCCP: png(pixels, 48, 48, { extra: [chunk('iCCP', Buffer.from('x\0\0\x78\x9c', 'latin1'))] }),
      sRGB: png(pixels, 48, 48, { extra: [chunk('sRGB', Buffer.from([0]))] }),
      eXIf: png(pixels, 48, 48, { extra: [chunk('eXIf', Buffer.from('MM\0*\0\0\0\x08\0\0', 'latin1'))] }),
      tRNS: png(pixels, 48, 48, { extra: [chunk('tRNS', Buffer.from([0, 0]))] }),
      'APNG acTL': png(pixels, 48, 48, { extra: [chunk('acTL', Buffer.alloc(8))] }),
      'bad IHDR crc': Buffer.concat([SIG, chunk('IHDR', ihdr(48, 48, 0).subarray(8, 21), true), good.subarray(33)]),
      'bytes after IEND': Buffer.concat([good, Buffer.from([0])]),
      'tEXt between IDATs': Buffer.concat([SIG, ihdr(48, 48, 0), chunk('IDAT', deflateSync(filterRows(pixels, 48, 48, 1, () => 0)).subarray(0, 50)), chunk('tEXt', Buffer.from('a\0b')), chunk('IDAT', deflateSync(filterRows(pixels, 48, 48, 1, () => 0)).subarray(50)), chunk('IEND', Buffer.alloc(0))]),
      'rows too short': Buffer.concat([SIG, ihdr(48, 48, 0), chunk('IDAT', deflateSync(Buffer.alloc(48 * 49 - 1))), chunk('IEND', Buffer.alloc(0))]),
      'not zlib': Buffer.concat([SIG, ihdr(48, 48, 0), chunk('IDAT', noise(500, 2)), chunk('IEND', Buffer.alloc(0))]),
      'filter type 5': Buffer.concat([SIG, ihdr(48, 48, 0), chunk('IDAT', deflateSync(Buffer.alloc(48 * 49, 5))), chunk('IEND', Buffer.alloc(0))]),
      'too many pixels for the fast path': png(noise(300 * 300, 1), 300, 300),
      'no IEND': good.subarray(0, good.length - 12),
    };
    assert.ok(300 * 300 > PNG_FAST_MAX_PIXELS);
    for (const [name, buf] of Object.entries(declines)) assert.equal(decodePlainGrayPng(buf), undefined, name);
    for (let n = 0; n < good.length; n++) assert.equal(decodePlainGrayPng(good.subarray(0, n)), undefined, `cut at ${n}`);
    assert.ok(decodePlainGrayPng(good), 'the untouched file does decode');
  });

  it('when the image data inflates past what the header declares, then 400 invalid_image, even by one byte', () => {
    const refused = (err: unknown) => err instanceof AppError && err.status === 400 && err.code === 'invalid_image' && /64x64 pixels its header declares/.test(err.message);
    // The bomb: 100 MB of rows behind a 64x64 header, about 100 KB on the wire.
    assert.throws(() => decodePlainGrayPng(bombPng(64, 64, 100 * 1024 * 1024)), refused);
    assert.throws(() => decodePlainGrayPng(bombPng(64, 64, 64 * 65 + 1)), refused);
    assert.ok(decodePlainGrayPng(bombPng(64, 64, 64 * 65)), 'exactly the declared rows decode');
    assert.equal(decodePlainGrayPng(bombPng(64, 64, 64 * 65 - 1)), undefined, 'short data is left to libvips');
  });
});
