import express, { Router } from 'express';
import type { ServiceContext } from '../context';
import { AppError } from '../errors';
import { adminAuth } from '../http/auth';
import { clearCanary, loadSlot, loadSlotBody, promote, rollback, setTraffic, slotParam, slotsState, trafficBody } from '../usecases/slots';
import { drift, driftQuery } from '../usecases/drift';
import { stats, statsQuery } from '../usecases/stats';

export function adminRoutes(ctx: ServiceContext): Router {
  const router = Router();
  router.use('/admin/v1', adminAuth(ctx.config.adminToken), express.json({ limit: '64kb' }));

  router.get('/admin/v1/slots', (_req, res) => {
    res.json(slotsState(ctx));
  });
  router.put('/admin/v1/slots/:slot', async (req, res) => {
    const slot = slotParam.parse(req.params.slot);
    res.json(await loadSlot(ctx, slot, loadSlotBody.parse(req.body)));
  });
  router.delete('/admin/v1/slots/:slot', async (req, res) => {
    if (req.params.slot !== 'canary') throw new AppError(400, 'invalid_request', 'only the canary slot can be emptied');
    res.json(await clearCanary(ctx));
  });
  router.put('/admin/v1/traffic', async (req, res) => {
    res.json(await setTraffic(ctx, trafficBody.parse(req.body)));
  });
  router.post('/admin/v1/promote', async (_req, res) => {
    res.json(await promote(ctx));
  });
  router.post('/admin/v1/rollback', async (_req, res) => {
    res.json(await rollback(ctx));
  });
  router.get('/admin/v1/stats', (req, res) => {
    const { windowSeconds } = statsQuery.parse(req.query);
    res.json(stats(ctx, windowSeconds));
  });
  router.get('/admin/v1/drift', (req, res) => {
    const { windowSeconds } = driftQuery.parse(req.query);
    res.json(drift(ctx, windowSeconds));
  });
  return router;
}
