import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger';

/** Request ids: a client's `x-request-id` is kept when it is short and plain, otherwise a fresh UUID. */
const CLIENT_ID = /^[\w.:-]{1,128}$/;

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
  }
  interface Locals {
    /** Set by routes that know which model answered, for the access log. */
    slot?: string;
    modelVersion?: string;
    errorCode?: string;
  }
}

export function requestContext(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = req.get('x-request-id');
    req.id = given && CLIENT_ID.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', req.id);
    const start = performance.now();
    // One JSON line per request; headers are not logged, so the admin token never reaches the log.
    res.on('finish', () => {
      logger.info('request', {
        requestId: req.id,
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: Math.round((performance.now() - start) * 100) / 100,
        slot: res.locals.slot,
        modelVersion: res.locals.modelVersion,
        errorCode: res.locals.errorCode,
      });
    });
    next();
  };
}
