import { ApplicationFailure } from '@temporalio/common';
import type { DriftOutput } from './drift';
import type { StatsOutput } from './stats';
import type { LoadSlotRequest, SlotName, SlotsState, SlotView, TrafficRequest } from './wire';

/** The replica did not answer at all (refused, reset, timed out): the fleet skips it and retries it later. */
export class ReplicaUnreachable extends Error {
  constructor(readonly url: string, message: string) {
    super(message);
    this.name = 'ReplicaUnreachable';
  }
}

/**
 * The one client of one inference replica's admin API (/admin/v1). One error policy for every caller: a 4xx
 * (other than 408 and 429) is the caller's fault and fails as a non-retryable `BadInput`; a 5xx, 408 or 429 is a
 * plain error (Temporal retries it); no answer at all is `ReplicaUnreachable`.
 */
export class InferenceAdminClient {
  constructor(readonly baseUrl: string, private readonly token: string, private readonly timeoutMs = 120_000) {}

  slots = (): Promise<SlotsState> => this.call('GET', '/admin/v1/slots');
  loadSlot = (slot: SlotName, body: LoadSlotRequest): Promise<SlotView> => this.call('PUT', `/admin/v1/slots/${slot}`, body);
  setTraffic = (body: TrafficRequest): Promise<SlotsState> => this.call('PUT', '/admin/v1/traffic', body);
  promote = (): Promise<SlotsState> => this.call('POST', '/admin/v1/promote');
  rollback = (): Promise<SlotsState> => this.call('POST', '/admin/v1/rollback');
  stats = (windowSeconds: number, generation?: number): Promise<StatsOutput> => this.call('GET', `/admin/v1/stats?${query(windowSeconds, generation)}`);
  drift = (windowSeconds: number, generation?: number): Promise<DriftOutput> => this.call('GET', `/admin/v1/drift?${query(windowSeconds, generation)}`);

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      // undici says only "fetch failed"; the socket error is its cause. A rolled-back rollout records this text.
      const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
      throw new ReplicaUnreachable(this.baseUrl, `inference ${method} ${new URL(path, this.baseUrl).href.split('?')[0]} unreachable: ${cause}`);
    }
    const text = await res.text();
    if (res.ok) return (text ? JSON.parse(text) : {}) as T;
    const message = `inference ${method} ${path} at ${this.baseUrl} -> ${res.status}: ${text.slice(0, 500)}`;
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
      throw ApplicationFailure.nonRetryable(message, 'BadInput');
    }
    throw new Error(message);
  }
}

const query = (windowSeconds: number, generation?: number) =>
  `windowSeconds=${windowSeconds}${generation === undefined ? '' : `&generation=${generation}`}`;
