/**
 * Overload of the inference service, and the memory it holds through it:
 *   node --import tsx bench/inference-overload.ts [seconds=15] [clients=32] [variants=limits,unlimited]
 * For each variant a fresh service (main.ts, a child process) gets `clients` clients on 127.0.0.1 for `seconds`:
 * half upload a 2048x2048 noise PNG (~4 MB) in 64 KB chunks 20 ms apart (a slow upload, ~3 MB/s), half send a
 * small PNG that decodes to 6000x6000 (36 MP, under FEROPS_MAX_PIXELS). A client whose request is refused tries
 * again 100 ms later, well before Retry-After: the bench keeps the pressure on. Variants:
 *   limits    - the service's defaults (FEROPS_MAX_INFLIGHT, FEROPS_MAX_BUFFERED_BYTES), or whatever the environment sets
 *   unlimited - both limits out of reach, i.e. the service as it was before admission control
 * Printed per variant: the service's RSS before the load, its peak during (VmHWM) and 3 s after; answers by status;
 * the share of 503s; p50/p99 of the 503 answers and of the 200s (from the first byte sent to the last received); and
 * the service's own event-loop delay, p99 and max over the load (prom-client's, read from /metrics).
 */
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import sharp from 'sharp';
import { defaultBenchModel } from './bench-models';
import { startService } from './inference-http';

const CHUNK = 64 * 1024;
const CHUNK_GAP_MS = 20;
const RETRY_MS = 100;

interface Result {
  /** The HTTP status, or the client-side error code (ECONNRESET, timeout, ...). */
  status: number | string;
  ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One POST, its body written `CHUNK` bytes at a time when `slow`; stops writing once an answer has come. */
function send(url: string, body: Buffer, slow: boolean): Promise<Result> {
  const { port } = new URL(url);
  const started = performance.now();
  return new Promise((resolve) => {
    let answered = false;
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/predict', agent: false, timeout: 60_000, headers: { 'content-type': 'image/png', 'content-length': body.length } });
    const done = (status: Result['status']) => {
      if (answered) return;
      answered = true;
      resolve({ status, ms: performance.now() - started });
      req.destroy();
    };
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 'no status'));
      res.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? 'error'));
    });
    req.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? 'error'));
    req.on('timeout', () => done('timeout'));
    if (!slow) return void req.end(body);
    (async () => {
      for (let at = 0; at < body.length && !answered; at += CHUNK) {
        if (!req.write(body.subarray(at, at + CHUNK))) await new Promise((r) => req.once('drain', r));
        await sleep(CHUNK_GAP_MS);
      }
      if (!answered) req.end();
    })().catch((err: NodeJS.ErrnoException) => done(err.code ?? 'error'));
  });
}

/** The service's process: the child of this one that runs main.ts. */
function servicePid(): number {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes('services/inference/main.ts'));
  if (!line) throw new Error(`service process not found among:\n${out}`);
  return Number(line.trim().split(/\s+/)[0]);
}

const statusMB = (pid: number, field: 'VmRSS' | 'VmHWM') => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
};

/** The service's event-loop delay since the last scrape (prom-client resets its histogram on each one), in ms. */
async function loopDelayMs(url: string): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => 1000 * Number(new RegExp(`^ferops_inference_${name} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { p99: read('nodejs_eventloop_lag_p99_seconds'), max: read('nodejs_eventloop_lag_max_seconds') };
}

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};

async function overload(variant: string, env: Record<string, string>, modelDir: string, bodies: { upload: Buffer; bomb: Buffer }, seconds: number, clients: number) {
  const saved = { ...process.env };
  Object.assign(process.env, env); // startService passes this process' environment on
  const service = await startService(modelDir);
  process.env = saved;
  try {
    const pid = servicePid();
    for (let i = 0; i < 3; i++) await send(service.url, bodies.bomb, false); // allocators and JIT warm, as a running service is
    await sleep(1000);
    const before = statusMB(pid, 'VmRSS');
    await loopDelayMs(service.url);
    const results: Result[] = [];
    const end = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: clients }, async (_, i) => {
        const slow = i % 2 === 0;
        while (performance.now() < end) {
          const r = await send(service.url, slow ? bodies.upload : bodies.bomb, slow);
          results.push(r);
          if (r.status !== 200) await sleep(RETRY_MS);
        }
      }),
    );
    const peak = statusMB(pid, 'VmHWM');
    const loop = await loopDelayMs(service.url);
    await sleep(3000);
    const afterMB = statusMB(pid, 'VmRSS');
    const by = (s: Result['status']) => results.filter((r) => r.status === s);
    const shed = by(503);
    const ok = by(200);
    const others = new Map<string, number>();
    for (const r of results) if (r.status !== 200 && r.status !== 503) others.set(String(r.status), (others.get(String(r.status)) ?? 0) + 1);
    const other = [...others].map(([s, n]) => `${n} x ${s}`).join(', ') || '0';
    const f = (x: number) => x.toFixed(0);
    console.log(
      `| ${variant} | ${f(before)} | ${f(peak)} | ${f(afterMB)} | ${results.length} | ${ok.length} | ${shed.length} (${((100 * shed.length) / results.length).toFixed(1)} %) | ${other} | ${f(quantile(shed.map((r) => r.ms), 0.5))}/${f(quantile(shed.map((r) => r.ms), 0.99))} | ${f(quantile(ok.map((r) => r.ms), 0.5))}/${f(quantile(ok.map((r) => r.ms), 0.99))} | ${f(loop.p99)}/${f(loop.max)} |`,
    );
  } finally {
    await service.stop();
  }
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 15);
  const clients = Number(process.argv[3] ?? 32);
  const variants = (process.argv[4] ?? 'limits,unlimited').split(',');
  const model = defaultBenchModel();
  const noise = Buffer.alloc(2048 * 2048);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
  const bodies = {
    upload: await sharp(noise, { raw: { width: 2048, height: 2048, channels: 1 } }).toColourspace('b-w').png({ compressionLevel: 0 }).toBuffer(),
    bomb: await sharp({ create: { width: 6000, height: 6000, channels: 3, background: '#808080' } }).png().toBuffer(),
  };
  console.log(`# ${new Date().toISOString()}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${cpus().length} cores, model ${model.label}`);
  console.log(`# ${clients} clients for ${seconds} s: half slow uploads of ${(bodies.upload.length / 2 ** 20).toFixed(1)} MB, half ${(bodies.bomb.length / 1024).toFixed(0)} KB PNGs of 36 MP`);
  console.log('| variant | RSS before MB | RSS peak MB | RSS 3 s after MB | answers | 200 | 503 | other | 503 p50/p99 ms | 200 p50/p99 ms | event-loop delay p99/max ms |\n|---|---|---|---|---|---|---|---|---|---|---|');
  for (const v of variants) {
    const env: Record<string, string> = v === 'unlimited' ? { FEROPS_MAX_INFLIGHT: '1000000', FEROPS_MAX_BUFFERED_BYTES: String(2 ** 50) } : {};
    await overload(v === 'unlimited' ? v : `limits (${process.env.FEROPS_MAX_INFLIGHT ?? 64} in flight, ${process.env.FEROPS_MAX_BUFFERED_BYTES ?? 'default'} bytes)`, env, model.dir, bodies, seconds, clients);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
