import { splitBatch } from './batch';
import { MlflowHttp } from './http';
import { withoutLoggedPoints } from './metric-dedup';
import { MlflowUnavailableError } from './errors';
import { isRetryable, resolveRetry, withRetry, type ResolvedRetry, type RetryOptions } from './retry';
import { toMetric, type MetricPoint } from './runs';
import type { Metric } from './types';

export interface MetricBufferOptions {
  baseUrl: string;
  runId: string;
  /** Budget for one flush while the server is unreachable; defaults to 120 s so a minute's outage loses nothing. */
  retry?: RetryOptions;
  /** Background flush period; 0 disables it (then only `flush()` sends). */
  intervalMs?: number;
}

/**
 * Queues metric points in memory and sends them in log-batch requests, so a training loop never waits on
 * MLflow and a server outage costs nothing but latency. Points leave the queue only once the server has
 * taken them. After a failed try, points the run already holds (key, step) are dropped before the re-send,
 * so each point is stored exactly once even when a request reached the server but its answer was lost.
 * An activity must `await flush()` (or `close()`) before it reports success.
 */
export class MetricBuffer {
  private queue: Metric[] = [];
  private inFlight: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private lastError?: unknown;
  private busy = false;
  /** Single-try transport: the retry loop lives here so that it can de-duplicate between tries. */
  private readonly http: MlflowHttp;
  private readonly retry: ResolvedRetry;

  constructor(private readonly opts: MetricBufferOptions) {
    this.http = new MlflowHttp({ baseUrl: opts.baseUrl, retry: { attempts: 1 } });
    const r = opts.retry ?? {};
    this.retry = resolveRetry({ ...r, attempts: r.attempts ?? 1_000, totalTimeoutMs: r.totalTimeoutMs ?? 120_000 });
    if (opts.intervalMs) {
      // Skip a tick while a flush is still retrying: queued points ride along with it anyway.
      this.timer = setInterval(() => {
        if (!this.busy) void this.flush().catch((e) => (this.lastError = e));
      }, opts.intervalMs);
      this.timer.unref();
    }
  }

  /** Queues one point; never throws for a server problem. */
  add(key: string, value: number, step = 0, timestamp = Date.now()): void {
    this.queue.push(toMetric({ key, value, step, timestamp }));
  }

  addAll(points: MetricPoint[]): void {
    for (const p of points) this.queue.push(toMetric(p));
  }

  get pending(): number {
    return this.queue.length;
  }

  /** The last background flush error, if any (for logging; `flush()` rethrows its own). */
  get backgroundError(): unknown {
    return this.lastError;
  }

  /** Sends everything queued so far; rejects with MlflowUnavailableError when the retry budget runs out. */
  flush(): Promise<void> {
    this.inFlight = this.inFlight.catch(() => undefined).then(() => this.drain());
    return this.inFlight;
  }

  /** Final flush and stop the background timer. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      await this.drainQueue();
    } finally {
      this.busy = false;
    }
  }

  private async drainQueue(): Promise<void> {
    while (this.queue.length > 0) {
      const [chunk] = splitBatch({ metrics: this.queue.slice(0, 1000) });
      const taken = chunk.metrics.length;
      let failedBefore = false;
      await withRetry(`log-batch of ${taken} metric points`, this.retry, async () => {
        try {
          const points = failedBefore ? await withoutLoggedPoints(this.http, this.opts.runId, chunk.metrics) : chunk.metrics;
          if (points.length > 0) {
            await this.http.json('POST', '/runs/log-batch', { body: { run_id: this.opts.runId, metrics: points, params: [], tags: [] } });
          }
        } catch (e) {
          failedBefore = true;
          throw e;
        }
        // The inner transport makes one try, so its "unavailable" is just one refused connection here.
      }, (e) => e instanceof MlflowUnavailableError || isRetryable(e));
      this.queue.splice(0, taken);
    }
  }
}
