import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import multer from 'multer';
import { AppError } from '../errors';

/**
 * Reads the image of a predict request: multipart field `image` (exactly one file), or a raw body with an
 * `image/*` (or application/octet-stream) content type, at most `maxBytes` (after content-encoding). The bytes'
 * real format is checked by the decoder, never trusted from the header. Works on plain node:http objects
 * (the predict route runs outside express, see routes/predict.ts).
 */
const MULTER_CODES: Record<string, [number, string, string]> = {
  LIMIT_FILE_SIZE: [413, 'payload_too_large', 'the uploaded file is larger than FEROPS_MAX_BODY_BYTES'],
  LIMIT_FILE_COUNT: [400, 'too_many_files', 'send exactly one file, in the field "image"'],
  LIMIT_UNEXPECTED_FILE: [400, 'unexpected_field', 'the file must be sent in the field "image"'],
  LIMIT_PART_COUNT: [400, 'invalid_multipart', 'too many multipart parts'],
  LIMIT_FIELD_COUNT: [400, 'invalid_multipart', 'too many multipart fields'],
  LIMIT_FIELD_KEY: [400, 'invalid_multipart', 'a multipart field name is too long'],
  LIMIT_FIELD_VALUE: [400, 'invalid_multipart', 'a multipart field value is too long'],
};

const DECODERS: Record<string, (buf: Buffer, opts: { maxOutputLength: number }) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
};

const tooLarge = () => new AppError(413, 'payload_too_large', 'the request body is larger than FEROPS_MAX_BODY_BYTES');

/**
 * `received(bytes)` is told the running total of body bytes as they arrive; when it throws (admission control's
 * budget), reading stops and the read fails with that error.
 */
export type ImageReader = (req: IncomingMessage, res: ServerResponse, received?: (bytes: number) => void) => Promise<Buffer>;

export function imageReader(maxBytes: number): ImageReader {
  // multer's middleware only uses node:http's request (headers, piping) and sets `files` on it.
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: maxBytes, files: 1, fields: 10, parts: 12, fieldSize: 64 * 1024 },
  }).any() as unknown as Upload;

  return async (req, res, received = () => undefined) => {
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    if (type.startsWith('multipart/form-data')) return readMultipart(upload, req, res, received);
    if (type.startsWith('image/') || type.startsWith('application/octet-stream')) {
      const body = await readRaw(req, maxBytes, received);
      if (body.length === 0) throw new AppError(400, 'empty_body', 'the request body is empty');
      return body;
    }
    if (!type && (req.headers['content-length'] ?? '0') === '0' && !req.headers['transfer-encoding']) {
      throw new AppError(400, 'empty_body', 'the request has no body: send an image');
    }
    throw new AppError(415, 'unsupported_media_type', `content type "${type || 'none'}" is not accepted: send image/* or multipart/form-data`);
  };
}

type Upload = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

function readMultipart(upload: Upload, req: IncomingMessage, res: ServerResponse, received: (bytes: number) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let size = 0;
    let refused = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      try {
        received(size);
      } catch (err) {
        refused = true;
        req.off('data', onData);
        req.unpipe();
        req.pause(); // as readRaw: stop reading, answer, and leave the rest of the body unread
        reject(err);
      }
    };
    upload(req, res, (err?: unknown) => {
      req.off('data', onData);
      if (refused) return;
      if (err) return reject(multerError(err));
      const files = ((req as { files?: Express.Multer.File[] }).files as Express.Multer.File[] | undefined) ?? [];
      if (files.length === 0) return reject(new AppError(400, 'missing_file', 'multipart request has no file in the field "image"'));
      if (files[0].fieldname !== 'image') return reject(new AppError(400, 'unexpected_field', `the file must be sent in the field "image", not "${files[0].fieldname}"`));
      if (files[0].size === 0) return reject(new AppError(400, 'empty_body', 'the uploaded file is empty'));
      resolve(files[0].buffer);
    });
    // After upload(): multer pipes the request into its parser synchronously, so no chunk can pass unseen.
    req.on('data', onData);
  });
}

/**
 * The raw body, refused with 413 as soon as it is known to be too large (declared length or bytes received), and
 * decoded when it has a content-encoding, with the same limit on the decoded size.
 */
async function readRaw(req: IncomingMessage, maxBytes: number, received: (bytes: number) => void): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  const decode = encoding === 'identity' ? undefined : DECODERS[encoding];
  if (encoding !== 'identity' && !decode) throw new AppError(415, 'unsupported_media_type', `unsupported content encoding "${encoding}"`);
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) throw tooLarge();
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (err: unknown) => {
      req.off('data', onData);
      req.pause(); // stop reading; the answer goes out and the connection is not reused for the rest
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return fail(tooLarge());
      try {
        received(size);
      } catch (err) {
        return fail(err);
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.once('aborted', () => fail(new AppError(400, 'request_aborted', 'the client aborted the request')));
    req.once('error', () => fail(new AppError(400, 'request_aborted', 'the client aborted the request')));
  });
  if (!decode) return body;
  try {
    return await decode(body, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
    throw new AppError(400, 'invalid_encoding', `the body is not valid ${encoding}`);
  }
}

function multerError(err: unknown): AppError {
  const code = (err as { code?: string }).code;
  const known = code ? MULTER_CODES[code] : undefined;
  if (known) return new AppError(known[0], known[1], known[2]);
  const msg = err instanceof Error ? err.message : String(err);
  return new AppError(400, 'invalid_multipart', `malformed multipart body: ${msg}`);
}
