import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { freePort, onFreePort } from '../../infra/processes/managed-process';

/** A real listener on `port`; rejects as Node does when the port is taken (EADDRINUSE). */
const listen = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
const close = (srv: Server) => new Promise((resolve) => srv.close(resolve));

describe('servers on picked ports', () => {
  it('when the picked port is taken before the server binds it, then the server starts on another one', async () => {
    const squatter = await listen(0);
    const taken = (squatter.address() as { port: number }).port;
    const picks = [taken];
    const tried: number[] = [];
    try {
      const srv = await onFreePort(undefined, (port) => (tried.push(port), listen(port)), 3, async () => picks.shift() ?? freePort());
      assert.equal(tried[0], taken);
      assert.equal(tried.length, 2);
      assert.equal((srv.address() as { port: number }).port, tried[1]);
      await close(srv);
    } finally {
      await close(squatter);
    }
  });

  it('when the port is pinned, or the failure is not a taken port, or the tries run out, then the error is the caller\'s', async () => {
    const squatter = await listen(0);
    const taken = (squatter.address() as { port: number }).port;
    try {
      let calls = 0;
      const count = (port: number) => (calls++, listen(port));
      await assert.rejects(onFreePort(taken, count), /EADDRINUSE/);
      assert.equal(calls, 1, 'a pinned port is tried once');
      calls = 0;
      await assert.rejects(onFreePort(undefined, count, 3, async () => taken), /EADDRINUSE/);
      assert.equal(calls, 3, 'three tries, then the last error');
      calls = 0;
      await assert.rejects(onFreePort(undefined, () => (calls++, Promise.reject(new Error('mlflow exited (1): bad backend URI')))), /bad backend/);
      assert.equal(calls, 1, 'another failure is not retried');
    } finally {
      await close(squatter);
    }
  });
});
