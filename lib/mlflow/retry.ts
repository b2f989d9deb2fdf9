import { setTimeout as sleep } from 'node:timers/promises';
import { MlflowError, MlflowUnavailableError } from './errors';

export interface RetryOptions {
  /** Most tries in all (first call included). */
  attempts?: number;
  /** Cap on one backoff delay. */
  maxDelayMs?: number;
  /** No new try starts after this much time since the first one. */
  totalTimeoutMs?: number;
  /** First backoff delay; doubles each try. */
  baseDelayMs?: number;
}

export type ResolvedRetry = Required<RetryOptions>;

/**
 * Defaults sized so that a restart of the tracking server (10-30 s) does not fail a call: about a minute of
 * tries. Activities that must survive longer outages (metric flushes) pass a bigger budget.
 */
export const DEFAULT_RETRY: ResolvedRetry = { attempts: 20, maxDelayMs: 5_000, totalTimeoutMs: 60_000, baseDelayMs: 250 };

export const resolveRetry = (o: RetryOptions | undefined): ResolvedRetry => ({ ...DEFAULT_RETRY, ...stripUndefined(o ?? {}) });

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Full jitter (AWS architecture blog): a random delay in [0, min(cap, base * 2^n)] spreads out retry storms. */
export function backoffDelay(attempt: number, o: ResolvedRetry, random: () => number = Math.random): number {
  const ceiling = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** attempt);
  return Math.max(50, Math.floor(random() * ceiling));
}

/** Connection failures and 5xx are worth another try; a 4xx is the caller's fault and will not change. */
export function isRetryable(e: unknown): boolean {
  if (e instanceof MlflowError) return e.status >= 500 || e.status === 429;
  return !(e instanceof MlflowUnavailableError);
}

/** Runs `fn` until it succeeds, a non-retryable error is thrown, or the budget is spent. */
export async function withRetry<T>(what: string, o: ResolvedRetry, fn: () => Promise<T>, retryable: (e: unknown) => boolean = isRetryable): Promise<T> {
  const start = Date.now();
  let last: unknown;
  let tries = 0;
  for (let attempt = 0; attempt < o.attempts; attempt++) {
    tries++;
    try {
      return await fn();
    } catch (e) {
      if (!retryable(e)) throw e;
      last = e;
    }
    const delay = backoffDelay(attempt, o);
    if (Date.now() - start + delay > o.totalTimeoutMs) break;
    await sleep(delay);
  }
  if (last instanceof MlflowError) throw last;
  // A nested single-try call reports its own "unavailable"; name the underlying cause instead.
  const cause = last instanceof MlflowUnavailableError && last.cause !== undefined ? last.cause : last;
  const detail = cause instanceof Error ? `${(cause as NodeJS.ErrnoException).code ?? cause.name}: ${cause.message}` : String(cause);
  throw new MlflowUnavailableError(`MLflow unreachable for ${what} after ${tries} tries in ${Date.now() - start} ms: ${detail}`, tries, cause);
}
