import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, listenerPortRange, onFreePort } from '../../infra/processes/managed-process';

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

  it('when ports are picked, then they lie below the ephemeral range that client sockets take theirs from, and none is handed out twice', async () => {
    const range = listenerPortRange();
    const picks: number[] = [];
    for (let i = 0; i < 50; i++) picks.push(await freePort());
    assert.equal(new Set(picks).size, picks.length, 'a caller picking several before binding any gets distinct ports');
    if (range) for (const p of picks) assert.ok(p >= range[0] && p < range[1], `${p} outside [${range[0]}, ${range[1]})`);
    // What the pick avoids: a client socket's local port, taken from the ephemeral range, refuses a listener.
    const server = await listen(0);
    const client = await new Promise<Socket>((resolve) => { const c = connect((server.address() as { port: number }).port, '127.0.0.1', () => resolve(c)); });
    try {
      await assert.rejects(listen(client.localPort!), /EADDRINUSE/);
    } finally {
      client.destroy();
      await close(server);
    }
  });

  it('when the ephemeral range leaves no room below it, or cannot be read, then the kernel picks', () => {
    const dir = mkdtempSync(join(tmpdir(), 'port-range-'));
    const file = (text: string) => (writeFileSync(join(dir, 'range'), text), join(dir, 'range'));
    assert.deepEqual(listenerPortRange(file('32768\t60999\n')), [15000, 32768]);
    assert.equal(listenerPortRange(file('1024 65535')), undefined);
    assert.equal(listenerPortRange(join(dir, 'missing')), undefined);
  });
});
