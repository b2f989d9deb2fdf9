import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort, startProcess, type ManagedProcess } from './managed-process';

const run = promisify(execFile);
const PG_ROOT = '/usr/lib/postgresql';
const SUPERUSER = 'ferops';
const DATABASE = 'mlflow';

export interface PostgresServer extends ManagedProcess {
  /**
   * SQLAlchemy URL of the `mlflow` database, e.g. for `mlflow server --backend-store-uri`. It names the psycopg2
   * driver (the one the venv has) because a bare `postgresql://` means psycopg 3 since SQLAlchemy 2.1.
   */
  readonly url: string;
  readonly port: number;
}

/**
 * A throwaway PostgreSQL server from Debian's `postgresql` package: data in `dir/data`, listening on 127.0.0.1
 * and on a unix socket in `dir` only, so a cluster the package may run on 5432 is never involved. Restarting on the
 * same dir keeps the data. PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user
 * and `dir` is handed to it: its parents must let that user in (a fresh dir under os.tmpdir() does).
 */
export async function startPostgres(opts: { dir: string; port?: number }): Promise<PostgresServer> {
  const bin = pgBinDir();
  const port = opts.port || (await freePort());
  const dataDir = join(opts.dir, 'data');
  mkdirSync(opts.dir, { recursive: true });
  const asUser = asServerUser(opts.dir);
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
  if (fresh) {
    // Trust auth (no password) is fine for a test server that listens on localhost only.
    execFileSync(...asUser(join(bin, 'initdb'), [
      '-D', dataDir, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync',
    ]), { cwd: opts.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }
  // fsync off: the data is thrown away, and fsync only matters when the machine itself crashes, not the server.
  const [command, args] = asUser(join(bin, 'postgres'), [
    '-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-k', opts.dir, '-c', 'fsync=off',
  ]);
  const proc = await startProcess({
    name: 'postgres',
    command,
    args,
    cwd: opts.dir,
    logFile: join(opts.dir, 'postgres.log'),
    // pg_isready says no while the server still replays its WAL or refuses connections ("starting up").
    ready: () => run(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port), '-U', SUPERUSER, '-d', 'postgres']).then(() => true),
    readyTimeoutMs: 60_000,
  });
  const server = Object.assign(proc, {
    url: `postgresql+psycopg2://${SUPERUSER}@127.0.0.1:${port}/${DATABASE}`,
    port,
    // SIGTERM (what ManagedProcess sends) is PostgreSQL's "smart" shutdown, which waits until every client (say,
    // MLflow's connection pool) has gone; SIGINT is "fast": it ends the sessions, checkpoints and exits.
    stop: async (graceMs = 10_000) => {
      try {
        process.kill(proc.pid, 'SIGINT');
      } catch {
        /* already gone */
      }
      // An unref'd timer: a server that stops at once must not keep the caller's process alive for graceMs.
      const done = await Promise.race([proc.exited.then(() => true), sleep(graceMs, false, { ref: false })]);
      if (!done) await proc.kill();
    },
  });
  if (fresh) {
    try {
      await run(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', SUPERUSER, DATABASE]);
    } catch (e) {
      await server.stop();
      throw e;
    }
  }
  return server;
}

/** The newest server under /usr/lib/postgresql/<version>/bin (the Debian layout). */
function pgBinDir(): string {
  const versions = existsSync(PG_ROOT)
    ? readdirSync(PG_ROOT).filter((v) => /^\d+$/.test(v) && existsSync(join(PG_ROOT, v, 'bin', 'postgres')))
    : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) {
    throw new Error(`no PostgreSQL server under ${PG_ROOT}: run FEROPS_BOOTSTRAP_FLEET=1 bash infra/bootstrap.sh (Debian's postgresql)`);
  }
  return join(PG_ROOT, newest, 'bin');
}

/** Wraps a command so that it runs as the `postgres` user when we are root (setpriv execs: no extra process). */
function asServerUser(dir: string): (command: string, args: string[]) => [string, string[]] {
  if (process.getuid?.() !== 0) return (command, args) => [command, args];
  execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  const wrap = (command: string, args: string[]): [string, string[]] => [
    'setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', command, ...args],
  ];
  try {
    execFileSync(...wrap('test', ['-w', dir]));
  } catch {
    throw new Error(`the postgres user cannot write ${dir}: use a dir whose parents it may enter, e.g. one under /tmp`);
  }
  return wrap;
}
