import { Router } from 'express';
import type { ServiceContext } from '../context';
import { openapi } from '../openapi';

/** Health, readiness, metrics and the API description. */
export function opsRoutes(ctx: ServiceContext): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', (_req, res) => {
    // A replica of a fleet is ready only once it serves the fleet's desired state, never what it booted with.
    const d = ctx.deployment.status();
    if (d.following !== null && d.generation === null) {
      res.status(503).json({ status: 'not_ready', reason: `has not applied the desired state of ${d.following} yet${d.error ? `: ${d.error.message}` : ''}` });
      return;
    }
    const stable = ctx.slots.get('stable');
    if (!stable) {
      res.status(503).json({ status: 'not_ready', reason: 'no stable model loaded' });
      return;
    }
    res.json({ status: 'ready', stableVersion: stable.info.version });
  });
  router.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', ctx.metrics.registry.contentType);
    res.send(await ctx.metrics.registry.metrics());
  });
  router.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  return router;
}
