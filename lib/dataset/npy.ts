import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

/**
 * Minimal NumPy `.npy` v1.0 reader/writer for the one dtype datasets use: uint8, C order.
 * numpy reads what this writes with `np.load` (and `mmap_mode='r'`, which is why the header is padded so that the
 * data starts on a 64-byte boundary, as numpy itself does).
 */
const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const ALIGN = 64;

export interface NpyArray {
  data: Uint8Array;
  shape: number[];
}

export function npyHeader(shape: readonly number[]): Buffer {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`npy: bad dimension ${d} in shape [${shape.join(', ')}]`);
  }
  // A 1-tuple needs its trailing comma in Python syntax: (N,)
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '|u1', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1; // magic, version, header length, dict, '\n'
  const pad = (ALIGN - (unpadded % ALIGN)) % ALIGN;
  const headerText = dict + ' '.repeat(pad) + '\n';
  if (headerText.length > 0xffff) throw new Error('npy: header too long for format 1.0');
  const out = Buffer.alloc(MAGIC.length + 4 + headerText.length);
  MAGIC.copy(out, 0);
  out[6] = 1; // major version
  out[7] = 0; // minor version
  out.writeUInt16LE(headerText.length, 8);
  out.write(headerText, 10, 'latin1');
  return out;
}

/** Writes `data` (row-major, `shape`) as a uint8 .npy file. */
export function writeNpyUint8(path: string, data: Uint8Array, shape: readonly number[]): void {
  const expected = shape.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new Error(`npy: ${data.length} bytes do not fill shape [${shape.join(', ')}] (${expected})`);
  }
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, npyHeader(shape));
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
  } finally {
    closeSync(fd);
  }
}

/** Parses a .npy header; accepts only uint8 C-order arrays, the only kind a dataset holds. */
export function parseNpyHeader(buf: Uint8Array, where = 'npy'): { shape: number[]; dataOffset: number } {
  if (buf.length < 10 || !MAGIC.equals(Buffer.from(buf.buffer, buf.byteOffset, 6))) {
    throw new Error(`${where}: not a .npy file (bad magic)`);
  }
  const major = buf[6];
  let headerLen: number;
  let start: number;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    throw new Error(`${where}: unsupported .npy version ${major}`);
  }
  const header = Buffer.from(buf.buffer, buf.byteOffset + start, Math.min(headerLen, buf.length - start)).toString('latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  if (descr !== '|u1' && descr !== '<u1' && descr !== '>u1') throw new Error(`${where}: dtype ${descr} is not uint8`);
  if (!/'fortran_order'\s*:\s*False/.test(header)) throw new Error(`${where}: Fortran-order arrays are not supported`);
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (shapeText === undefined) throw new Error(`${where}: header has no shape`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number(s));
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${where}: bad shape (${shapeText})`);
  return { shape, dataOffset: start + headerLen };
}

/** Reads a whole uint8 .npy file; the data is a view on the file buffer, not a copy. */
export function readNpyUint8(path: string): NpyArray {
  const buf = readFileSync(path);
  const { shape, dataOffset } = parseNpyHeader(buf, path);
  const count = shape.reduce((a, b) => a * b, 1);
  if (buf.length - dataOffset !== count) {
    throw new Error(`${path}: holds ${buf.length - dataOffset} data bytes, shape [${shape.join(', ')}] needs ${count}`);
  }
  return { data: new Uint8Array(buf.buffer, buf.byteOffset + dataOffset, count), shape };
}
