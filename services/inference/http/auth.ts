import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../errors';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Bearer-token guard of the admin API. Both sides are hashed first so timingSafeEqual compares equal-length
 * buffers and the comparison time reveals neither the token's content nor its length.
 */
export function adminAuth(token: string | undefined) {
  const expected = token === undefined ? undefined : digest(token);
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (!expected) throw new AppError(503, 'admin_disabled', 'the admin API is disabled: set FEROPS_ADMIN_TOKEN');
    const header = req.get('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new AppError(401, 'unauthorized', 'send Authorization: Bearer <admin token>');
    if (!timingSafeEqual(digest(m[1]), expected)) throw new AppError(403, 'forbidden', 'the admin token is not valid');
    next();
  };
}
