import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../errors';
import type { ClientAddress } from './client-address';

/**
 * Per-client token bucket (burst = one second of tokens). Buckets that have refilled completely carry no
 * information and are dropped, so the map stays bounded by the number of recently active clients.
 * Returns a check that throws 429 `rate_limited` (with the seconds to wait in `retryAfterS`) when `client` is over.
 */
export function rateLimiter(rps: number): (client: string) => void {
  if (rps <= 0) return () => undefined;
  const burst = Math.max(1, rps);
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = Date.now();
  return (client) => {
    const now = Date.now();
    if (now - lastSweep > 10_000) {
      for (const [k, b] of buckets) if (b.tokens + ((now - b.at) / 1000) * rps >= burst) buckets.delete(k);
      lastSweep = now;
    }
    const b = buckets.get(client) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rps);
    b.at = now;
    buckets.set(client, b);
    if (b.tokens < 1) {
      throw Object.assign(new AppError(429, 'rate_limited', `more than ${rps} requests per second from this client`), {
        retryAfterS: Math.ceil((1 - b.tokens) / rps),
      });
    }
    b.tokens -= 1;
  };
}

/** Express form: `check` against the request's client address; a 429 carries Retry-After (error-handler.ts). */
export function rateLimited(check: (client: string) => void, clientOf: ClientAddress) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    check(clientOf(req));
    next();
  };
}
