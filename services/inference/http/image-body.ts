import express, { type NextFunction, type Request, type Response } from 'express';
import multer from 'multer';
import { AppError } from '../errors';

/**
 * Reads the image of a predict request into `res.locals.image`: multipart field `image` (exactly one file), or a
 * raw body with an `image/*` (or application/octet-stream) content type. The bytes' real format is checked by
 * the decoder, never trusted from the header.
 */
declare module 'express-serve-static-core' {
  interface Locals {
    image?: Buffer;
  }
}

const MULTER_CODES: Record<string, [number, string, string]> = {
  LIMIT_FILE_SIZE: [413, 'payload_too_large', 'the uploaded file is larger than FEROPS_MAX_BODY_BYTES'],
  LIMIT_FILE_COUNT: [400, 'too_many_files', 'send exactly one file, in the field "image"'],
  LIMIT_UNEXPECTED_FILE: [400, 'unexpected_field', 'the file must be sent in the field "image"'],
  LIMIT_PART_COUNT: [400, 'invalid_multipart', 'too many multipart parts'],
  LIMIT_FIELD_COUNT: [400, 'invalid_multipart', 'too many multipart fields'],
  LIMIT_FIELD_KEY: [400, 'invalid_multipart', 'a multipart field name is too long'],
  LIMIT_FIELD_VALUE: [400, 'invalid_multipart', 'a multipart field value is too long'],
};

export function imageBody(maxBytes: number) {
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: maxBytes, files: 1, fields: 10, parts: 12, fieldSize: 64 * 1024 },
  }).any();
  const raw = express.raw({ type: () => true, limit: maxBytes });

  return (req: Request, res: Response, next: NextFunction): void => {
    const type = (req.get('content-type') ?? '').toLowerCase();
    if (type.startsWith('multipart/form-data')) {
      upload(req, res, (err?: unknown) => {
        if (err) return next(multerError(err));
        const files = (req.files as Express.Multer.File[] | undefined) ?? [];
        if (files.length === 0) return next(new AppError(400, 'missing_file', 'multipart request has no file in the field "image"'));
        if (files[0].fieldname !== 'image') return next(new AppError(400, 'unexpected_field', `the file must be sent in the field "image", not "${files[0].fieldname}"`));
        if (files[0].size === 0) return next(new AppError(400, 'empty_body', 'the uploaded file is empty'));
        res.locals.image = files[0].buffer;
        next();
      });
      return;
    }
    if (type.startsWith('image/') || type.startsWith('application/octet-stream')) {
      raw(req, res, (err?: unknown) => {
        if (err) return next(err);
        const body = req.body as unknown;
        if (!Buffer.isBuffer(body) || body.length === 0) return next(new AppError(400, 'empty_body', 'the request body is empty'));
        res.locals.image = body;
        next();
      });
      return;
    }
    if (!type && (req.get('content-length') ?? '0') === '0' && !req.get('transfer-encoding')) {
      return next(new AppError(400, 'empty_body', 'the request has no body: send an image'));
    }
    next(new AppError(415, 'unsupported_media_type', `content type "${type || 'none'}" is not accepted: send image/* or multipart/form-data`));
  };
}

function multerError(err: unknown): AppError {
  const code = (err as { code?: string }).code;
  const known = code ? MULTER_CODES[code] : undefined;
  if (known) return new AppError(known[0], known[1], known[2]);
  const msg = err instanceof Error ? err.message : String(err);
  return new AppError(400, 'invalid_multipart', `malformed multipart body: ${msg}`);
}
