import { Router } from 'express';
import type { ServiceContext } from '../context';
import { rateLimited, rateLimiter } from '../http/rate-limit';
import { publicStatus } from '../usecases/status';

/** GET /v1/status: the read-only deployment summary the try-it page shows; no admin token, same rate limit as predict. */
export function statusRoutes(ctx: ServiceContext): Router {
  const router = Router();
  router.get('/v1/status', rateLimited(rateLimiter(ctx.config.rateLimitRps), ctx.clientAddress), (_req, res) => {
    res.setHeader('cache-control', 'no-store');
    res.json(publicStatus(ctx));
  });
  return router;
}
