import { Router } from 'express';
import { z } from 'zod';
import type { ServiceContext } from '../context';
import { imageBody } from '../http/image-body';
import { rateLimit } from '../http/rate-limit';
import { predict } from '../usecases/predict';

const predictQuery = z.object({
  detect: z.enum(['true', 'false', '1', '0']).default('true').transform((v) => v === 'true' || v === '1'),
});

export function predictRoutes(ctx: ServiceContext): Router {
  const router = Router();
  router.post('/v1/predict', rateLimit(ctx.config.rateLimitRps), imageBody(ctx.config.maxBodyBytes), async (req, res) => {
    const { detect } = predictQuery.parse(req.query);
    const out = await predict(ctx, {
      image: res.locals.image!,
      detect,
      routeKey: req.get('x-ferops-route-key') || undefined,
      requestId: req.id,
    });
    res.locals.slot = out.slot;
    res.locals.modelVersion = out.modelVersion;
    res.setHeader('x-model-version', out.modelVersion);
    res.json(out);
  });
  return router;
}
