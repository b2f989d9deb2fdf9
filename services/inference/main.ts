import { startServer } from './server';

/** Entry point: `node --import tsx services/inference/main.ts`. SIGTERM/SIGINT drain in-flight requests. */
async function main(): Promise<void> {
  const server = await startServer();
  let signalled = false;
  const shutdown = (signal: string) => {
    if (signalled) {
      process.exit(1); // a second signal means the operator does not want to wait
    }
    signalled = true;
    server.ctx.logger.info('shutting down', { signal });
    server.stop().then(
      () => process.exit(0),
      (err) => {
        server.ctx.logger.error('shutdown failed', { error: (err as Error).message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`inference service failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
