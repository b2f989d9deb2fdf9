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
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'shutting down', signal })}\n`);
    server.stop().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`shutdown failed: ${(err as Error).message}\n`);
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
