import { INFERENCE_NODE_FLAGS } from './node-flags';
import { startServer } from './server';

/**
 * Entry point: `node --heap-growing-percent=200 --import tsx services/inference/main.ts` (the flags: node-flags.ts).
 * SIGTERM/SIGINT drain in-flight requests.
 */
async function main(): Promise<void> {
  const server = await startServer();
  const missing = INFERENCE_NODE_FLAGS.filter((flag) => !process.execArgv.includes(flag));
  // Not fatal (the service is correct without them), but without them sustained load runs far slower: say so once.
  if (missing.length > 0) server.ctx.logger.info('started without recommended node flags (see services/inference/node-flags.ts)', { missing });
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
