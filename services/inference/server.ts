import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { type InferenceConfig, loadConfig } from './config';
import type { ServiceContext } from './context';
import { createApp, createContext } from './app';
import { isPredictRequest, predictHandler } from './routes/predict';
import { loadSlot } from './usecases/slots';
import { DesiredStateFollower } from './runtime/desired-state-follower';

export interface RunningServer {
  url: string;
  /** Where the admin API answers: `url`, or the FEROPS_ADMIN_PORT listener when one is configured. */
  adminUrl: string;
  port: number;
  app: Express;
  ctx: ServiceContext;
  /** Stops accepting connections, lets in-flight requests finish, then releases the models. */
  stop(): Promise<void>;
}

/** Starts the service; `port: 0` binds a free port (tests). Fails fast on bad config or a bad stable model. */
export async function startServer(overrides: Partial<InferenceConfig> = {}): Promise<RunningServer> {
  const config = loadConfig(overrides);
  if (config.stableModel && config.desiredState !== 'off') {
    throw new Error('invalid inference config: FEROPS_STABLE_MODEL and FEROPS_DESIRED_STATE=mlflow exclude each other (a following replica serves the desired state)');
  }
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
  const serverOptions = {
    requestTimeout: config.requestTimeoutMs,
    headersTimeout: Math.min(config.requestTimeoutMs, 60_000),
    connectionsCheckingInterval: Math.min(30_000, Math.max(250, config.requestTimeoutMs / 4)),
  };
  const separateAdmin = config.adminPort !== undefined;
  const server = createServer(serverOptions, (req, res) => {
    if (isPredictRequest(req)) return predict(req, res);
    if (separateAdmin && isAdminPath(req)) return notFound(res);
    return app(req, res);
  });
  const adminServer = separateAdmin ? createServer(serverOptions, (req, res) => (isAdminPath(req) ? app(req, res) : notFound(res))) : undefined;
  let url: string;
  let adminUrl: string;
  try {
    url = await listen(server, config.port, config.host);
    adminUrl = adminServer ? await listen(adminServer, config.adminPort!, config.adminHost ?? config.host) : url;
  } catch (err) {
    server.close();
    await ctx.faces.close();
    throw err;
  }
  const port = Number(new URL(url).port);
  // After listening: the replica answers /healthz and, until it has applied the desired state, 503 on /readyz.
  const follower = ctx.deployment instanceof DesiredStateFollower ? ctx.deployment : undefined;
  follower?.start();
  ctx.logger.info('inference service listening', { url, adminUrl, stable: ctx.slots.get('stable')?.info.version ?? null });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= new Promise<void>((resolve, reject) => {
      // close() waits for in-flight requests; idle keep-alive sockets are closed so it does not wait on them.
      adminServer?.close();
      adminServer?.closeIdleConnections();
      server.close((err) => {
        Promise.all([follower?.stop()]).then(() => Promise.all([ctx.feedback.close(), ctx.slots.close(), ctx.faces.close()])).then(() => (err ? reject(err) : resolve()), reject);
      });
      server.closeIdleConnections();
    }));
  return { url, adminUrl, port, app, ctx, stop };
}

function listen(server: Server, port: number, host: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    server.once('listening', () => {
      const bound = (server.address() as AddressInfo).port;
      resolve(`http://${host.includes(':') ? `[${host}]` : host}:${bound}`);
    });
    server.once('error', reject);
    server.listen(port, host);
  });
}

/**
 * Whether a request is for the admin API, as express would route it (case-insensitive, percent-decoded, repeated
 * slashes folded), so that no spelling of the path reaches it through the public port.
 */
function isAdminPath(req: IncomingMessage): boolean {
  const path = (req.url ?? '/').split('?')[0];
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    decoded = path;
  }
  return /^\/+admin(\/|$)/i.test(decoded.replace(/\/{2,}/g, '/'));
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: 'no such route' } }));
}

/** The first cascade run compiles wasm paths and allocates buffers (~0.5 s); every worker pays it before traffic. */
async function warmUpDetector(ctx: ServiceContext): Promise<void> {
  const side = 96;
  const blank = () => ({ data: Buffer.alloc(side * side, 128), width: side, height: side, format: 'raw' });
  await Promise.all(Array.from({ length: Math.max(1, ctx.config.cvWorkers) }, () => ctx.faces.find(blank(), true)));
}
