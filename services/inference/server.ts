import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { type InferenceConfig, loadConfig } from './config';
import type { ServiceContext } from './context';
import { createApp, createContext } from './app';
import { isPredictRequest, predictHandler } from './routes/predict';
import { loadSlot } from './usecases/slots';

export interface RunningServer {
  url: string;
  port: number;
  app: Express;
  ctx: ServiceContext;
  /** Stops accepting connections, lets in-flight requests finish, then releases the models. */
  stop(): Promise<void>;
}

/** Starts the service; `port: 0` binds a free port (tests). Fails fast on bad config or a bad stable model. */
export async function startServer(overrides: Partial<InferenceConfig> = {}): Promise<RunningServer> {
  const config = loadConfig(overrides);
  const ctx = await createContext(config);
  try {
    await warmUpDetector(ctx);
    if (config.stableModel) await loadSlot(ctx, 'stable', { source: config.stableModel });
  } catch (err) {
    await ctx.faces.close();
    throw err;
  }
  const app = createApp(ctx);
  const predict = predictHandler(ctx);
  // requestTimeout bounds how long a client may take to send its request (slow uploads hold a socket and a
  // body buffer); node only checks it every connectionsCheckingInterval, so that is scaled down with it.
  const server = createServer(
    {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: Math.min(config.requestTimeoutMs, 60_000),
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, config.requestTimeoutMs / 4)),
    },
    (req, res) => (isPredictRequest(req) ? predict(req, res) : app(req, res)),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
      server.listen(config.port, config.host);
    });
  } catch (err) {
    await ctx.faces.close();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  ctx.logger.info('inference service listening', { url: `http://${host}:${port}`, stable: ctx.slots.get('stable')?.info.version ?? null });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= new Promise<void>((resolve, reject) => {
      // close() waits for in-flight requests; idle keep-alive sockets are closed so it does not wait on them.
      server.close((err) => {
        Promise.all([ctx.feedback.close(), ctx.slots.close(), ctx.faces.close()]).then(() => (err ? reject(err) : resolve()), reject);
      });
      server.closeIdleConnections();
    }));
  return { url: `http://${host}:${port}`, port, app, ctx, stop };
}

/** The first cascade run compiles wasm paths and allocates buffers (~0.5 s); every worker pays it before traffic. */
async function warmUpDetector(ctx: ServiceContext): Promise<void> {
  const side = 96;
  const blank = () => ({ data: Buffer.alloc(side * side, 128), width: side, height: side, format: 'raw' });
  await Promise.all(Array.from({ length: Math.max(1, ctx.config.cvWorkers) }, () => ctx.faces.find(blank(), true)));
}
