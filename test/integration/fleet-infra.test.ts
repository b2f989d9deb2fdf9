import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startHaproxy, type HaproxyServer } from '../../infra/processes/haproxy';
import { startMlflow, type MlflowServer } from '../../infra/processes/mlflow';
import { startPostgres, type PostgresServer } from '../../infra/processes/postgres';
import { MlflowClient, fromKeyValues } from '../../lib/mlflow';

const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('MLflow on PostgreSQL', () => {
  let pg: PostgresServer;
  let mlflow: MlflowServer | undefined;
  const mlflowDir = tempDir('ferops-mlflow-');
  before(async () => {
    pg = await startPostgres({ dir: tempDir('ferops-pg-') });
  });
  after(async () => {
    await mlflow?.stop();
    await pg?.stop();
  });

  it('when a registered-model tag is set and MLflow restarts on the same database, then the tag is read back', async () => {
    mlflow = await startMlflow({ dir: mlflowDir, backendStoreUri: pg.url });
    const name = `fleet-${Date.now().toString(36)}`;
    let client = new MlflowClient({ baseUrl: mlflow.url });
    await client.createRegisteredModel(name);
    await client.setRegisteredModelTag(name, 'ferops.stage', 'champion');
    assert.equal(fromKeyValues((await client.getRegisteredModel(name))?.tags)['ferops.stage'], 'champion');

    await mlflow.stop();
    mlflow = await startMlflow({ dir: mlflowDir, backendStoreUri: pg.url });
    client = new MlflowClient({ baseUrl: mlflow.url });
    assert.equal(fromKeyValues((await client.getRegisteredModel(name))?.tags)['ferops.stage'], 'champion');
    assert.equal(existsSync(join(mlflowDir, 'mlflow.db')), false, 'the SQLite default store was used instead');
  });
});

/**
 * A stand-in for an inference replica: answers /readyz, and anything else with its name after a short think; with
 * `starting`, anything else with 503 (a replica restarted after a crash that does not serve a model yet, while the
 * load balancer has not seen its health checks fail).
 */
interface Replica {
  name: string;
  url: string;
  inFlight: number;
  /** Requests answered 503 (`starting` only). */
  refused: number;
  /** Like a SIGKILL: stops listening and resets every open connection, in-flight requests included. */
  crash(): number;
  close(): Promise<void>;
}

async function startReplica(name: string, starting = false): Promise<Replica> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    if (req.url === '/readyz') return void res.end('ok');
    if (starting) {
      replica.refused++;
      res.statusCode = 503;
      return void req.resume().once('end', () => res.end('{"error":{"code":"not_ready"}}'));
    }
    replica.inFlight++;
    req.resume();
    req.once('end', () =>
      setTimeout(() => {
        replica.inFlight--;
        res.end(name);
      }, 10),
    );
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const replica: Replica = {
    name,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    inFlight: 0,
    refused: 0,
    crash() {
      const cut = replica.inFlight;
      server.close();
      sockets.forEach((s) => s.resetAndDestroy());
      return cut;
    },
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
  return replica;
}

/** `total` POSTs with an image-sized body, `concurrency` at a time, each client sending its requests in sequence. */
async function load(url: string, total: number, concurrency: number, during?: (done: () => number) => Promise<void>) {
  const body = Buffer.alloc(64 * 1024, 7);
  const failures: string[] = [];
  const by: Record<string, number> = {};
  let started = 0;
  let done = 0;
  const client = async () => {
    while (started++ < total) {
      try {
        const res = await fetch(`${url}/v1/predict`, { method: 'POST', body, signal: AbortSignal.timeout(10_000) });
        const text = await res.text();
        if (res.status !== 200) failures.push(`${res.status} ${text.slice(0, 80)}`);
        else by[text] = (by[text] ?? 0) + 1;
      } catch (e) {
        failures.push(String((e as Error).cause ?? e));
      }
      done++;
    }
  };
  await Promise.all([...Array.from({ length: concurrency }, client), during?.(() => done)]);
  return { failures, by };
}

const until = async (cond: () => boolean) => {
  while (!cond()) await sleep(5);
};

describe('HAProxy in front of replicas', () => {
  let replicas: Replica[] = [];
  let haproxy: HaproxyServer;
  before(async () => {
    replicas = await Promise.all(['r0', 'r1', 'r2'].map((name) => startReplica(name)));
    haproxy = await startHaproxy({ dir: tempDir('ferops-haproxy-'), servers: replicas.map((r) => r.url), healthPath: '/readyz' });
  });
  after(async () => {
    await haproxy?.stop();
    await Promise.all(replicas.map((r) => r.close()));
  });

  it('when three replicas are up, then requests are spread over all of them', async () => {
    const { failures, by } = await load(haproxy.url, 30, 3);
    assert.deepEqual(failures, []);
    assert.deepEqual(Object.keys(by).sort(), ['r0', 'r1', 'r2']);
  });

  it('when a replica crashes mid-load, then no client request fails', async () => {
    let cut = 0;
    const { failures, by } = await load(haproxy.url, 300, 4, async (done) => {
      await until(() => (done() >= 60 && replicas[2].inFlight > 0) || done() === 300);
      cut = replicas[2].crash();
    });
    assert.deepEqual(failures, []);
    assert.ok(cut > 0, 'the crash cut no request short: nothing was retried after part of it was sent');
    assert.equal((by.r0 ?? 0) + (by.r1 ?? 0) + (by.r2 ?? 0), 300);
  });

  it('when setServers adds a fourth replica under load, then it receives requests and none fails during the reload', async () => {
    replicas.push(await startReplica('r3'));
    const { failures, by } = await load(haproxy.url, 300, 4, async (done) => {
      await until(() => done() >= 60);
      await haproxy.setServers(replicas.map((r) => r.url));
    });
    assert.deepEqual(failures, []);
    assert.ok((by.r3 ?? 0) > 0, `r3 got no request: ${JSON.stringify(by)}`);
  });
});

describe('HAProxy in front of a replica that answers 503 before its health checks fail', () => {
  it('when a replica answers 503, then each request it refuses runs again on another replica and no client sees 503', async () => {
    const replicas = [await startReplica('r0'), await startReplica('restarting', true)];
    const haproxy = await startHaproxy({ dir: tempDir('ferops-haproxy-503-'), servers: replicas.map((r) => r.url), healthPath: '/readyz' });
    try {
      const { failures, by } = await load(haproxy.url, 40, 2);
      assert.deepEqual(failures, []);
      assert.deepEqual(by, { r0: 40 });
      assert.ok(replicas[1].refused > 0, 'control: the round robin did send requests to the refusing replica');
    } finally {
      await haproxy.stop();
      await Promise.all(replicas.map((r) => r.close()));
    }
  });
});

describe('HAProxy routes feedback to the replica that answered', () => {
  /** Stand-ins that remember the request ids they answered, as the service remembers recent predictions. */
  const answered = [new Set<string>(), new Set<string>(), new Set<string>()];
  const servers: Server[] = [];
  let haproxy: HaproxyServer;
  before(async () => {
    let next = 0;
    for (const [i, ids] of answered.entries()) {
      const server = createServer((req, res) => {
        if (req.url === '/readyz') return void res.end('ok');
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          if (req.url === '/v1/predict') {
            const id = `r${i}-${next++}`;
            ids.add(id);
            return void res.setHeader('x-request-id', id).end('{}');
          }
          res.statusCode = ids.has((JSON.parse(body) as { requestId: string }).requestId) ? 201 : 404;
          res.end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      servers.push(server);
    }
    haproxy = await startHaproxy({ dir: tempDir('ferops-haproxy-'), servers: servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`), healthPath: '/readyz' });
  });
  after(async () => {
    await haproxy?.stop();
    for (const s of servers) await new Promise((resolve) => (s.closeAllConnections(), s.close(resolve)));
  });

  it('when feedback names a prediction, then it reaches the replica that made it, however the round robin stands', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${haproxy.url}/v1/predict`, { method: 'POST', body: 'x' });
      ids.push(res.headers.get('x-request-id')!);
      await res.text();
    }
    assert.deepEqual(answered.map((a) => a.size), [10, 10, 10], 'predictions spread over every replica');
    // One more prediction shifts the round robin, so plain balancing would send each label to another replica.
    await (await fetch(`${haproxy.url}/v1/predict`, { method: 'POST', body: 'x' })).text();
    const statuses: number[] = [];
    for (const requestId of ids) {
      const res = await fetch(`${haproxy.url}/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requestId, faceIndex: 0, label: 'happy' }) });
      statuses.push(res.status);
      await res.text();
    }
    assert.deepEqual(statuses, ids.map(() => 201), 'every label reached the replica that remembers its prediction');
  });
});
