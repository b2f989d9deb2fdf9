import express, { Router } from 'express';
import type { ServiceContext } from '../context';
import { feedbackBody, submitFeedback } from '../usecases/feedback';

/** Clients label a face they got an answer for; the label is joined to the served prediction. */
export function feedbackRoutes(ctx: ServiceContext): Router {
  const router = Router();
  router.post('/v1/feedback', express.json({ limit: '16kb' }), async (req, res) => {
    res.status(201).json(await submitFeedback(ctx, feedbackBody.parse(req.body)));
  });
  return router;
}
