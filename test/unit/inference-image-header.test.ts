import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { bombPng } from '../helpers/png-bytes';
import { sniffImageHeader } from '../../services/inference/runtime/image-header';

const noisy = (width: number, height: number, channels: 3 | 4 = 3) =>
  sharp({ create: { width, height, channels, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } });

/** Every way the service is likely to receive each format, each with its own size so a swapped field shows. */
async function seeds(): Promise<Record<string, Buffer>> {
  const frame = (c: string) => sharp({ create: { width: 40, height: 30, channels: 3, background: c } }).png().toBuffer();
  return {
    'png rgb': await noisy(97, 61).png().toBuffer(),
    'png gray': await noisy(48, 48).toColourspace('b-w').png().toBuffer(),
    'png rgba': await noisy(33, 70, 4).png().toBuffer(),
    'png 16-bit': await noisy(50, 40).toColourspace('rgb16').png().toBuffer(),
    'png palette': await noisy(64, 9).png({ palette: true }).toBuffer(),
    'jpeg baseline': await noisy(97, 61).jpeg().toBuffer(),
    'jpeg progressive': await noisy(120, 35).jpeg({ progressive: true }).toBuffer(),
    'jpeg with exif before the frame': await noisy(80, 60).withMetadata({ orientation: 6 }).jpeg().toBuffer(),
    'jpeg cmyk': await noisy(44, 52).toColourspace('cmyk').jpeg().toBuffer(),
    'webp lossy': await noisy(97, 61).webp().toBuffer(),
    'webp lossless': await noisy(301, 17).webp({ lossless: true }).toBuffer(),
    'webp with alpha (VP8X)': await noisy(75, 45, 4).webp().toBuffer(),
    'webp animated': await sharp([await frame('#f00'), await frame('#0f0')], { join: { animated: true } }).webp().toBuffer(),
    gif: await noisy(97, 61).gif().toBuffer(),
    'gif animated': await sharp([await frame('#f00'), await frame('#0f0')], { join: { animated: true } }).gif().toBuffer(),
  };
}

describe('image header sniffer', () => {
  it('when given each accepted format, then format and size are what libvips reports', async () => {
    for (const [name, buf] of Object.entries(await seeds())) {
      const meta = await sharp(buf).metadata();
      assert.deepEqual(sniffImageHeader(buf), { format: meta.format, width: meta.width, height: meta.height }, name);
    }
  });

  it('when the header is cut short anywhere, then the answer is nothing or the full header, never a wrong size', async () => {
    for (const [name, buf] of Object.entries(await seeds())) {
      const full = sniffImageHeader(buf);
      for (let n = 0; n < Math.min(buf.length, 400); n++) {
        const got = sniffImageHeader(buf.subarray(0, n));
        if (got !== undefined) assert.deepEqual(got, full, `${name} cut at ${n} bytes`);
      }
      assert.equal(sniffImageHeader(buf.subarray(0, 8)), undefined, `${name}: 8 bytes hold no size`);
    }
  });

  it('when a header declares a bomb, then its full size is reported without reading further', () => {
    assert.deepEqual(sniffImageHeader(bombPng(100000, 100000)), { format: 'png', width: 100000, height: 100000 });
    const gif = Buffer.from('GIF89a\0\0\0\0\0\0\0', 'latin1');
    gif.writeUInt16LE(65535, 6);
    gif.writeUInt16LE(65000, 8);
    assert.deepEqual(sniffImageHeader(gif), { format: 'gif', width: 65535, height: 65000 });
    const vp8x = Buffer.alloc(30);
    vp8x.write('RIFF', 0, 'latin1');
    vp8x.write('WEBPVP8X', 8, 'latin1');
    vp8x.writeUIntLE(16383, 24, 3);
    vp8x.writeUIntLE(16383, 27, 3);
    assert.deepEqual(sniffImageHeader(vp8x), { format: 'webp', width: 16384, height: 16384 });
  });

  it('when a JPEG frame header declares 65500x65500, then that size is reported', async () => {
    const jpeg = Buffer.from(await noisy(16, 16).jpeg().toBuffer());
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    jpeg.writeUInt16BE(65500, sof + 5);
    jpeg.writeUInt16BE(65500, sof + 7);
    assert.deepEqual(sniffImageHeader(jpeg), { format: 'jpeg', width: 65500, height: 65500 });
  });

  it('when the bytes are another format, text or noise, then nothing is claimed', async () => {
    const others = [
      await noisy(20, 20).tiff().toBuffer(),
      await noisy(20, 20).avif().toBuffer(),
      Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"/>'),
      Buffer.from('<html><body>not an image</body></html>'),
      Buffer.alloc(0),
      Buffer.from([0xff, 0xd8, 0xff]),
      Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x08, 1, 2, 3, 4, 5, 6]), // scan before any frame header
      Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01, 0, 0, 0, 0]), // segment length below 2
      Buffer.from('RIFF\0\0\0\0WEBPVP8 \0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0', 'latin1'), // no key-frame start code
    ];
    for (const buf of others) assert.equal(sniffImageHeader(buf), undefined, buf.subarray(0, 12).toString('latin1'));
    let seed = 1;
    for (let i = 0; i < 200; i++) {
      const noise = Buffer.from(new Uint8Array(64).map(() => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff));
      assert.equal(sniffImageHeader(noise), undefined);
    }
  });

  it('when a side is zero, then nothing is claimed, so libvips gives its own error', () => {
    assert.equal(sniffImageHeader(bombPng(0, 50)), undefined);
    assert.equal(sniffImageHeader(Buffer.from('GIF87a\x10\0\0\0\0\0\0', 'latin1')), undefined);
  });
});
