import { join } from 'node:path';
import express, { type Express } from 'express';
import type { InferenceConfig } from './config';
import type { ServiceContext } from './context';
import { AppError } from './errors';
import { Admission } from './http/admission';
import { clientAddress } from './http/client-address';
import { errorHandler } from './http/error-handler';
import { requestContext } from './http/request-context';
import { createLogger } from './logger';
import { createMetrics } from './metrics';
import { faceSetup } from './runtime/faces';
import { createFaceFinder } from './runtime/face-finder';
import { FeedbackPeers } from './runtime/feedback-peers';
import { FeedbackStore } from './runtime/feedback-store';
import { RecentPredictions } from './runtime/recent-predictions';
import { createModelSource, mlflowRegistry } from './runtime/model-source';
import { Slots } from './runtime/slots';
import { DESIRED_STATE_READ, DesiredStateFollower } from './runtime/desired-state-follower';
import { prepareModel } from './usecases/slots';
import { MlflowClient } from '../../lib/mlflow/client';
import { pruneRegistryCache } from '../../lib/onnx/registry-cache';
import { discovery } from '../../lib/inference-admin/discovery';
import { StatsRing } from './runtime/stats-ring';
import { adminRoutes } from './routes/admin';
import { feedbackRoutes } from './routes/feedback';
import { publishAccuracy } from './usecases/feedback';
import { opsRoutes } from './routes/ops';
import { pageRoutes } from './routes/page';
import { statusRoutes } from './routes/status';

/** Wires the runtime pieces into one context; the face nets (or Haar's cascades) load here so a bad path fails start-up. */
export async function createContext(config: InferenceConfig): Promise<ServiceContext> {
  let chain: Promise<unknown> = Promise.resolve();
  const metrics = createMetrics();
  const logger = createLogger(config.logLevel);
  const feedback = await FeedbackStore.open(join(config.feedbackDir, 'feedback.jsonl'), { maxBytes: config.feedbackMaxBytes });
  if (feedback.skipped.lines > 0) {
    logger.error('feedback log: lines that are not feedback records were skipped', { path: feedback.path, skipped: feedback.skipped.lines, first: feedback.skipped.sample });
  }
  // Live accuracy is over the retained durable log, so a restart does not reset the gauge to "no data".
  publishAccuracy(metrics, feedback);
  const ctx: ServiceContext = {
    config,
    logger,
    metrics,
    admission: new Admission(config, { inflight: metrics.inflight, bufferedBytes: metrics.bufferedBytes, shed: metrics.shed }),
    clientAddress: clientAddress(config.trustedProxies),
    slots: new Slots(),
    deployment: STANDALONE,
    stats: new StatsRing(config.statsCapacity),
    recent: new RecentPredictions(config.recentPredictions, config.feedbackTtlSeconds * 1000, undefined, {
      perPrediction: config.recentCropBytes,
      total: config.recentCropsTotalBytes,
    }),
    feedback,
    peers: config.inferenceDiscovery
      ? new FeedbackPeers(discovery(config.inferenceDiscovery), config.adminToken!, (message, fields) => logger.error(message, fields))
      : undefined,
    faces: await createFaceFinder(faceSetup(config), config.cvWorkers, (err, respawnInMs) =>
      logger.error('face worker crashed; its photos failed and a replacement starts', { error: err.message, respawnInMs }),
    ),
    sessionOptions: {
      threads: config.ortThreads,
      batchMax: config.batchMax,
      batchWaitMs: config.batchWaitMs,
      variant: config.modelVariant,
      onBatch: (faces) => metrics.batchFaces.observe(faces),
    },
    modelSource: createModelSource({ modelDirs: config.modelDirs, cacheDir: config.modelCacheDir, registry: () => mlflowRegistry(config.mlflowUrl) }),
    adminLock: <T>(fn: () => Promise<T>): Promise<T> => {
      const run = chain.then(async () => {
        const result = await fn();
        // Every change to the slots runs here, so the cache holds no more than they serve. Not after a failure:
        // what it downloaded for a state not yet applied is what the next try needs.
        await keepServedModelsOnly(ctx);
        return result;
      });
      chain = run.catch(() => undefined);
      return run;
    },
  };
  if (config.desiredState === 'mlflow') {
    ctx.deployment = new DesiredStateFollower({
      slots: ctx.slots,
      store: new MlflowClient({ baseUrl: config.mlflowUrl, ...DESIRED_STATE_READ }),
      modelName: config.modelName,
      pollMs: config.desiredStatePollMs,
      prepare: (model) => prepareModel(ctx, model),
      lock: ctx.adminLock,
      log: (message, fields) => logger.info(message, fields),
    });
  }
  return ctx;
}

/** Drops registry downloads the slots no longer serve (lib/onnx/registry-cache.ts); a failure is only logged. */
async function keepServedModelsOnly(ctx: ServiceContext): Promise<void> {
  const serving = (['stable', 'canary'] as const).flatMap((slot) => ctx.slots.get(slot)?.info.dir ?? []);
  try {
    const removed = await pruneRegistryCache(ctx.config.modelCacheDir, serving);
    if (removed.length) ctx.logger.info('model cache: removed versions no slot serves', { removed });
  } catch (err) {
    ctx.logger.error('model cache: pruning failed', { error: (err as Error).message });
  }
}

/** A service driven by admin calls alone (FEROPS_DESIRED_STATE=off). */
const STANDALONE = { status: () => ({ following: null, generation: null, appliedAt: null, error: null }) };

export function createApp(ctx: ServiceContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(requestContext(ctx.logger));
  app.use(opsRoutes(ctx));
  app.use(pageRoutes());
  app.use(statusRoutes(ctx));
  app.use(feedbackRoutes(ctx));
  app.use(adminRoutes(ctx));
  app.use((req) => {
    throw new AppError(404, 'not_found', `no route ${req.method} ${req.path}`);
  });
  app.use(errorHandler(ctx.logger));
  return app;
}
