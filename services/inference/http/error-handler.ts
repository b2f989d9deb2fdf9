import type { NextFunction, Request, Response } from 'express';
import { ZodError } from 'zod';
import { AppError, toAppError } from '../errors';
import type { Logger } from '../logger';

/** Errors thrown by express' body parsers carry a `type`; map the ones a client can cause. */
function fromBodyParser(err: { type?: string; status?: number; message?: string }): AppError | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new AppError(413, 'payload_too_large', 'the request body is larger than FEROPS_MAX_BODY_BYTES');
    case 'entity.parse.failed':
      return new AppError(400, 'invalid_json', 'the request body is not valid JSON');
    case 'request.aborted':
      return new AppError(400, 'request_aborted', 'the client aborted the request');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError(415, 'unsupported_media_type', err.message ?? 'unsupported encoding');
    default:
      return undefined;
  }
}

export interface ErrorReply {
  status: number;
  code: string;
  body: { error: { code: string; message: string; requestId: string } };
  /** Seconds for the Retry-After header (429 rate_limited, 503 overloaded). */
  retryAfterS?: number;
}

/** The one place that turns errors into `{error: {code, message, requestId}}` answers (express or plain node). */
export function errorReply(err: unknown, requestId: string, logger: Logger): ErrorReply {
  let appErr: AppError;
  if (err instanceof ZodError) {
    const detail = err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    appErr = new AppError(400, 'invalid_request', detail);
  } else {
    appErr = fromBodyParser(err as { type?: string }) ?? toAppError(err);
  }
  if (!appErr.trusted || appErr.status >= 500) {
    logger.error('request failed', {
      requestId,
      code: appErr.code,
      error: appErr.cause instanceof Error ? appErr.cause.stack : String(appErr.cause ?? appErr.message),
    });
  }
  const message = appErr.trusted ? appErr.message : 'internal error';
  const retryAfterS = (err as { retryAfterS?: number } | undefined)?.retryAfterS;
  return { status: appErr.status, code: appErr.code, body: { error: { code: appErr.code, message, requestId } }, ...(retryAfterS !== undefined ? { retryAfterS } : {}) };
}

export function errorHandler(logger: Logger) {
  // Express recognises error handlers by their four parameters.
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const reply = errorReply(err, req.id, logger);
    res.locals.errorCode = reply.code;
    if (res.headersSent) return void res.end();
    if (reply.retryAfterS !== undefined) res.setHeader('retry-after', String(reply.retryAfterS));
    res.status(reply.status).json(reply.body);
  };
}
