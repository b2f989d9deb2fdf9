import { execFile } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort, startProcess, tail, type ManagedProcess } from './managed-process';

const run = promisify(execFile);

export interface HaproxyConfigOptions {
  port: number;
  /** Each replica as `http://host:port`. */
  servers: string[];
  /** Polled on each replica; any 2xx/3xx counts as ready. */
  healthPath: string;
  /** Where setServers() saves the servers' health before a reload, so that the new workers start from it. */
  stateFile: string;
  /**
   * HAProxy's buffer size (default 1 MiB). Retrying a request after it was sent (empty-response, response-timeout)
   * needs the whole request in one buffer: a larger upload is only retried when no connection could be made.
   */
  bufferBytes?: number;
}

/** The whole HAProxy configuration: one frontend on 127.0.0.1:port, round robin over the replicas. */
export function haproxyConfig(o: HaproxyConfigOptions): string {
  if (!/^\/\S*$/.test(o.healthPath)) throw new Error(`haproxy: healthPath must be a path like /readyz, not "${o.healthPath}"`);
  const servers = o.servers.map(serverAddress);
  const dup = servers.find((s, i) => servers.indexOf(s) !== i);
  if (dup) throw new Error(`haproxy: server ${dup} is listed twice`);
  return [
    '# Written by infra/processes/haproxy.ts; setServers() rewrites it.',
    'global',
    '  log stdout format raw local0 info',
    `  tune.bufsize ${o.bufferBytes ?? 1024 * 1024}`,
    // Larger buffers cost memory per connection, so fewer connections (HAProxy's own advice).
    '  maxconn 2000',
    `  server-state-file ${o.stateFile}`,
    // Old workers kept alive by idle client connections after a reload leave in the end anyway.
    '  hard-stop-after 2m',
    '',
    'defaults',
    '  mode http',
    '  log global',
    '  option httplog',
    // Not the readiness probe below, which connects and sends nothing.
    '  option dontlognull',
    '  timeout connect 2s',
    // Long enough for an image upload on a slow link.
    '  timeout client 60s',
    // The replica gets the body whole (http-buffer-request below), so this bounds its thinking alone: far above a
    // prediction, even queued behind a batch, and short enough that a hung replica (stopped, swapping) holds a
    // client's request for seconds, not a minute, before response-timeout sends it to another replica.
    '  timeout server 10s',
    // On a reload the old worker would close idle client keep-alive connections at once, racing with a client
    // that is sending on one (it would see a reset); instead it answers that next request with Connection: close.
    '  option idle-close-on-response',
    // New workers keep the health of the servers they share with the old ones: a replica known dead stays out.
    '  load-server-state-from-file global',
    '',
    'frontend inference',
    `  bind 127.0.0.1:${o.port}`,
    '  default_backend replicas',
    '',
    'backend replicas',
    '  balance roundrobin',
    // Feedback labels the answer a replica remembers (its recent predictions are in memory): each answer's request
    // id is remembered with the replica that gave it, and POST /v1/feedback names it in its body, so the label goes
    // to that replica. Kept as long as the service accepts feedback (FEROPS_FEEDBACK_TTL_SECONDS, 1 h by default).
    '  stick-table type string len 64 size 200k expire 1h',
    '  stick store-response res.hdr(x-request-id)',
    "  stick match req.body,json_query('$.requestId') if { path /v1/feedback }",
    `  option httpchk GET ${o.healthPath}`,
    // A dead replica is out after two failed checks, a restarted one back in after one good check. Until then the
    // retries below cover requests sent to it.
    '  default-server check inter 500 fall 2 rise 1',
    // Idle server connections are reused, but never for the first request of a client connection; a server that
    // closes an idle connection under a reused request costs an empty-response retry, not a failure.
    '  http-reuse safe',
    // Retrying is safe because POST /v1/predict changes no state (a replayed prediction is just computed twice).
    // conn-failure: a replica killed or restarting refuses connections; the request was never sent.
    // empty-response: a replica killed mid-request (SIGKILL) closes the connection without a byte of response.
    // response-timeout: a replica that hangs (stopped, swapping) answers nothing within timeout server.
    // 503: a replica restarted after a crash listens before it serves a model, and answers 503 until it does; the
    // health checks take it out only after `fall` failures, so requests sent to it meanwhile go to another replica
    // (docs/deployment.md, "A replica killed mid-request"). An overloaded replica's 503 is also retried elsewhere,
    // at most `retries` times.
    '  retry-on conn-failure empty-response response-timeout 503',
    // HAProxy keeps a copy for these retries only when the whole request is in when it first sends to a server;
    // without this it starts sending as soon as the headers are in, and a crash mid-upload becomes a 502.
    '  option http-buffer-request',
    // Enough to get past two dead replicas that health checks have not taken out yet.
    '  retries 3',
    // By default retries go back to the same server and only the last one elsewhere; 1: every retry picks
    // another server, the only useful choice when the first one is dead.
    '  option redispatch 1',
    ...servers.map((s) => `  server ${s} ${s}`),
    '',
  ].join('\n');
}

/** `http://127.0.0.1:8001` -> `127.0.0.1:8001` (also the server's name, stable across reloads). */
function serverAddress(url: string): string {
  const u = new URL(url);
  if (u.protocol !== 'http:' || !u.port || u.pathname !== '/' || u.search) {
    throw new Error(`haproxy: a server is given as http://host:port, not "${url}"`);
  }
  return `${u.hostname}:${u.port}`;
}

export interface HaproxyServer extends ManagedProcess {
  readonly url: string;
  readonly port: number;
  /** Rewrites the configuration and reloads it; in-flight and keep-alive client requests are not dropped. */
  setServers(servers: string[]): Promise<void>;
}

/**
 * HAProxy (Debian's package) in master-worker mode, in front of inference replicas. A reload (SIGUSR2 to the
 * master) starts new workers on the same listening sockets while the old ones finish their requests; the master
 * keeps its pid, so the ManagedProcess stays valid. The master CLI (a unix socket in `dir`) tells when it is done.
 */
export async function startHaproxy(opts: {
  dir: string;
  port?: number;
  servers: string[];
  healthPath: string;
  bufferBytes?: number;
}): Promise<HaproxyServer> {
  const port = opts.port || (await freePort());
  mkdirSync(opts.dir, { recursive: true });
  const cfg = join(opts.dir, 'haproxy.cfg');
  const cli = join(opts.dir, 'master.sock');
  const stateFile = join(opts.dir, 'server-state');
  writeFileSync(stateFile, '1\n'); // the state file format's version line: no server has a state yet
  const write = async (servers: string[]) => {
    writeFileSync(`${cfg}.new`, haproxyConfig({ port, servers, healthPath: opts.healthPath, stateFile, bufferBytes: opts.bufferBytes }));
    // Checked before it replaces the running one: a reload with a broken file would leave the master failed.
    await run('haproxy', ['-c', '-q', '-f', `${cfg}.new`]).catch((e: { stderr?: string }) => {
      throw new Error(`haproxy rejected its new configuration:\n${e.stderr ?? e}`);
    });
    renameSync(`${cfg}.new`, cfg);
  };
  await write(opts.servers);
  const proc = await startProcess({
    name: 'haproxy',
    command: 'haproxy',
    args: ['-W', '-S', cli, '-f', cfg],
    logFile: join(opts.dir, 'haproxy.log'),
    ready: async () => (await showProc(cli)).workers.length > 0 && (await canConnect(port)),
    readyTimeoutMs: 30_000,
  });
  let queue = Promise.resolve();
  const reload = async (servers: string[]) => {
    writeFileSync(stateFile, await masterCli(cli, '@1 show servers state'));
    await write(servers);
    const before = await showProc(cli);
    process.kill(proc.pid, 'SIGUSR2');
    // Done when no worker from before is current any more: the new ones accept every new connection.
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const now = await showProc(cli).catch(() => null); // the master's socket is briefly gone while it re-executes
      if (now && now.failedReloads > before.failedReloads) throw new Error(`haproxy reload failed:\n${tail(proc.logFile)}`);
      if (now && now.workers.length > 0 && !now.workers.some((w) => before.workers.includes(w))) return;
      await sleep(50);
    }
    throw new Error(`haproxy did not reload within 15 s:\n${tail(proc.logFile)}`);
  };
  return Object.assign(proc, {
    url: `http://127.0.0.1:${port}`,
    port,
    // One reload at a time: a second SIGUSR2 during a reload would be lost or confuse the wait above.
    setServers: (servers: string[]) => (queue = queue.catch(() => undefined).then(() => reload(servers))),
  });
}

interface ProcList {
  workers: number[];
  failedReloads: number;
}

/** Parses the master CLI's `show proc`: the current workers' pids and the master's failed reload count. */
async function showProc(cli: string): Promise<ProcList> {
  const list: ProcList = { workers: [], failedReloads: 0 };
  let section = 'master';
  for (const line of (await masterCli(cli, 'show proc')).split('\n')) {
    if (line.startsWith('# ')) section = line.slice(2).trim();
    else if (line.startsWith('#') || !line.trim()) continue;
    else if (section === 'master') list.failedReloads = Number(/\[failed: (\d+)\]/.exec(line)?.[1] ?? 0);
    else if (section === 'workers') list.workers.push(Number(line.trim().split(/\s+/)[0]));
  }
  return list;
}

/** One command on the master CLI; HAProxy answers and closes the connection. */
function masterCli(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const conn = connect(socket);
    conn.setEncoding('utf8');
    conn.setTimeout(5000, () => conn.destroy(new Error(`haproxy master CLI: no answer to "${command}"`)));
    conn.on('data', (chunk: string) => (out += chunk));
    conn.once('error', reject);
    conn.once('close', (hadError) => hadError || resolve(out));
    conn.end(`${command}\n`);
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = connect({ host: '127.0.0.1', port }, () => {
      conn.destroy();
      resolve(true);
    });
    conn.once('error', () => resolve(false));
  });
}
