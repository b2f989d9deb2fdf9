import express, { Router } from 'express';
import type { ServiceContext } from '../context';
import { admitted } from '../http/admission';
import { rateLimited, rateLimiter } from '../http/rate-limit';
import { feedbackBody, submitFeedback } from '../usecases/feedback';

const MAX_BODY_BYTES = 16 * 1024;

/** Clients label a face they got an answer for; the label is joined to the served prediction. */
export function feedbackRoutes(ctx: ServiceContext): Router {
  const router = Router();
  router.post(
    '/v1/feedback',
    rateLimited(rateLimiter(ctx.config.feedbackRateLimitRps), ctx.clientAddress),
    admitted(ctx.admission, MAX_BODY_BYTES),
    express.json({ limit: MAX_BODY_BYTES }),
    async (req, res) => {
      res.status(201).json(await submitFeedback(ctx, feedbackBody.parse(req.body)));
    },
  );
  return router;
}
