import express, { type NextFunction, type Request, type Response, Router } from 'express';
import type { ServiceContext } from '../context';
import { AppError } from '../errors';
import { adminAuth } from '../http/auth';
import { errorReply } from '../http/error-handler';
import { rateLimited, rateLimiter } from '../http/rate-limit';
import type { Logger } from '../logger';
import { clearCanary, loadSlot, loadSlotBody, promote, rollback, setTraffic, slotParam, slotsState, trafficBody } from '../usecases/slots';
import { drift, driftQuery } from '../usecases/drift';
import { feedbackBody, labelServed } from '../usecases/feedback';
import { stats, statsQuery } from '../usecases/stats';

const PREFIX = '/admin/v1';

interface AdminRoute {
  method: 'get' | 'put' | 'post' | 'delete';
  /** Below /admin/v1, in express syntax. */
  path: string;
  /** The call's name in the audit log. */
  action: string;
  run(ctx: ServiceContext, req: Request): unknown;
}

/** The admin API, one row per call. */
const ROUTES: AdminRoute[] = [
  { method: 'get', path: '/slots', action: 'read-slots', run: (ctx) => slotsState(ctx) },
  { method: 'put', path: '/slots/:slot', action: 'load-slot', run: (ctx, req) => loadSlot(ctx, slotParam.parse(req.params.slot), loadSlotBody.parse(req.body)) },
  {
    method: 'delete',
    path: '/slots/:slot',
    action: 'clear-slot',
    run: (ctx, req) => {
      if (req.params.slot !== 'canary') throw new AppError(400, 'invalid_request', 'only the canary slot can be emptied');
      return clearCanary(ctx);
    },
  },
  { method: 'put', path: '/traffic', action: 'set-traffic', run: (ctx, req) => setTraffic(ctx, trafficBody.parse(req.body)) },
  { method: 'post', path: '/promote', action: 'promote', run: (ctx) => promote(ctx) },
  { method: 'post', path: '/rollback', action: 'rollback', run: (ctx) => rollback(ctx) },
  { method: 'get', path: '/stats', action: 'read-stats', run: (ctx, req) => stats(ctx, statsQuery.parse(req.query)) },
  { method: 'get', path: '/drift', action: 'read-drift', run: (ctx, req) => drift(ctx, driftQuery.parse(req.query)) },
  // Another replica passing on a client's label (runtime/feedback-peers.ts): stored only if this one made the
  // prediction, and never passed on again.
  { method: 'post', path: '/feedback', action: 'label-for-peer', run: (ctx, req) => labelServed(ctx, feedbackBody.parse(req.body)) },
];

export function adminRoutes(ctx: ServiceContext): Router {
  const router = Router();
  const audit = auditTrail(ctx);
  // The audit starts first, so calls that the rate limit or the token check refuse are logged too; the limit comes
  // before the token check, so guessing tokens is limited too.
  router.use(PREFIX, audit.start, rateLimited(rateLimiter(ctx.config.adminRateLimitRps), ctx.clientAddress), adminAuth(ctx.config.adminToken), express.json({ limit: '64kb' }));
  for (const route of ROUTES) {
    router[route.method](PREFIX + route.path, async (req: Request, res: Response) => {
      const result = await route.run(ctx, req);
      audit.finish(req, 200);
      res.json(result);
    });
  }
  // Unknown admin paths are answered here rather than by the app's 404, so that they reach the audit as well.
  router.use(PREFIX, (req: Request) => {
    throw new AppError(404, 'not_found', `no route ${req.method} ${req.baseUrl}${req.path}`);
  });
  router.use(PREFIX, (err: unknown, req: Request, _res: Response, next: NextFunction) => {
    const reply = errorReply(err, req.id, QUIET);
    audit.finish(req, reply.status, { code: reply.code, message: reply.body.error.message });
    next(err);
  });
  return router;
}

// ---------------------------------------------------------------------------------------------------------------
// Audit trail
// ---------------------------------------------------------------------------------------------------------------

/** What an admin call can change: the version in each slot and the canary's traffic. */
type ServingState = { stable: string | null; canary: string | null; canaryWeight: number; shadow: boolean };

const servingState = (ctx: ServiceContext): ServingState => ({
  stable: ctx.slots.get('stable')?.info.version ?? null,
  canary: ctx.slots.get('canary')?.info.version ?? null,
  canaryWeight: ctx.slots.canaryWeight,
  shadow: ctx.slots.shadow,
});

/** errorReply only to learn what the caller was told; the central error handler logs the error itself. */
const QUIET: Logger = { info: () => undefined, error: () => undefined, audit: () => undefined };

/** The route a request asks for, matched as express matches it by default (any case, optional trailing slash). */
const MATCHERS = ROUTES.map((route) => ({ route, re: new RegExp(`^${route.path.replace(/:\w+/g, '[^/]+')}/?$`, 'i') }));
const actionOf = (method: string, path: string): string => {
  const m = method === 'HEAD' ? 'get' : method.toLowerCase();
  return MATCHERS.find(({ route, re }) => route.method === m && re.test(path))?.route.action ?? 'unknown';
};

/**
 * One `"level":"audit"` line per admin call, refused ones included: the request id, the peer address and the
 * client address (the one rate limits count, FEROPS_TRUSTED_PROXIES), the action, method and path, the source a
 * load asked for, the status, and for a refusal the error code and the message the caller got, with the serving
 * state before and after. "Before" is read when the request arrives; admin operations run one at a time
 * (adminLock), so with one caller (the pipeline) it is the state that the call changed. Headers are never logged.
 */
function auditTrail(ctx: ServiceContext) {
  const open = new WeakMap<Request, { action: string; path: string; before: ServingState }>();
  const start = (req: Request, _res: Response, next: NextFunction): void => {
    open.set(req, { action: actionOf(req.method, req.path), path: `${req.baseUrl}${req.path}`.slice(0, 512), before: servingState(ctx) });
    next();
  };
  const finish = (req: Request, status: number, refusal?: { code: string; message: string }): void => {
    const call = open.get(req);
    if (!call) return;
    open.delete(req);
    const source = (req.body as { source?: unknown } | undefined)?.source;
    // Read at call time, not captured: tests swap the context's logger for one that keeps what it is given.
    ctx.logger.audit('admin call', {
      requestId: req.id,
      peer: req.socket.remoteAddress ?? null,
      client: ctx.clientAddress(req),
      action: call.action,
      method: req.method,
      path: call.path,
      source: typeof source === 'string' ? source.slice(0, 4096) : undefined,
      status,
      outcome: status < 400 ? 'done' : status < 500 ? 'refused' : 'failed',
      reason: refusal?.code,
      detail: refusal?.message,
      before: call.before,
      after: servingState(ctx),
    });
  };
  return { start, finish };
}
