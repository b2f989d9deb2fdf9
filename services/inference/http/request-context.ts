import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger';

const CLIENT_ID = /^[\w.:-]{1,128}$/;

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
  }
  /** Set by routes that know which model answered, for the access log. */
  interface Locals extends AccessFields {}
}

/** The request id of a request: the client's `x-request-id` when it is short and plain, otherwise a fresh UUID. */
export function requestIdFrom(given: string | string[] | undefined): string {
  return typeof given === 'string' && CLIENT_ID.test(given) ? given : randomUUID();
}

export interface AccessFields {
  slot?: string;
  modelVersion?: string;
  errorCode?: string;
}

/**
 * One JSON line per request when its answer has been sent; headers are not logged, so the admin token never
 * reaches the log. `fields` is read at that moment (routes fill it in as they learn which model answered).
 */
export function logWhenFinished(logger: Logger, req: IncomingMessage, res: ServerResponse, requestId: string, path: string, fields: AccessFields): void {
  const start = performance.now();
  res.on('finish', () => {
    logger.info('request', {
      requestId,
      method: req.method,
      path,
      status: res.statusCode,
      ms: Math.round((performance.now() - start) * 100) / 100,
      slot: fields.slot,
      modelVersion: fields.modelVersion,
      errorCode: fields.errorCode,
    });
  });
}

export function requestContext(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    req.id = requestIdFrom(req.headers['x-request-id']);
    res.setHeader('x-request-id', req.id);
    logWhenFinished(logger, req, res, req.id, req.path, res.locals);
    next();
  };
}
