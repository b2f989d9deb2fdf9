import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../errors';

/**
 * Per-client token bucket (burst = one second of tokens). Buckets that have refilled completely carry no
 * information and are dropped, so the map stays bounded by the number of recently active clients.
 */
export function rateLimit(rps: number) {
  if (rps <= 0) return (_req: Request, _res: Response, next: NextFunction) => next();
  const burst = Math.max(1, rps);
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = Date.now();
  return (req: Request, res: Response, next: NextFunction): void => {
    const now = Date.now();
    if (now - lastSweep > 10_000) {
      for (const [k, b] of buckets) if (b.tokens + ((now - b.at) / 1000) * rps >= burst) buckets.delete(k);
      lastSweep = now;
    }
    const key = req.ip ?? 'unknown';
    const b = buckets.get(key) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rps);
    b.at = now;
    buckets.set(key, b);
    if (b.tokens < 1) {
      res.setHeader('retry-after', String(Math.ceil((1 - b.tokens) / rps)));
      throw new AppError(429, 'rate_limited', `more than ${rps} requests per second from this client`);
    }
    b.tokens -= 1;
    next();
  };
}
