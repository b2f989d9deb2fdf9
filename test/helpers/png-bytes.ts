import { crc32, deflateSync } from 'node:zlib';

/** Hand-made PNG bytes for decoder tests, with real CRCs so that even the plain gray PNG decoder reads them. */
function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])));
  return Buffer.concat([head, data, crc]);
}

/**
 * A decompression bomb: a small file whose header claims w x h 8-bit gray pixels, and whose IDAT inflates to
 * `inflated` zero bytes (the declared rows need h * (w + 1)).
 */
export function bombPng(w: number, h: number, inflated = 1000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.alloc(inflated))), pngChunk('IEND', Buffer.alloc(0))]);
}
