import { ApplicationFailure } from '@temporalio/common';
import type { SlotStats } from '../../services/inference/runtime/stats-ring';
import type { StatsOutput } from '../../services/inference/usecases/stats';
import type { SlotsState } from '../../services/inference/usecases/slots';
import type { DeploymentState, Slot, SlotWindowStats, WindowStats } from '../types';

/**
 * The inference service's admin API (services/inference, /admin/v1), as the deploy activities call it.
 * 4xx answers are the caller's fault and are not retried; 5xx and connection errors are, by Temporal.
 */
export class InferenceAdminClient {
  constructor(private readonly baseUrl: string, private readonly token: string) {}

  async state(): Promise<DeploymentState> {
    const s = await this.call<SlotsState>('GET', '/admin/v1/slots');
    const slot = (v: SlotsState['stable']) => (v ? { version: v.version, source: v.source } : undefined);
    return { stable: slot(s.stable), canary: slot(s.canary), ...s.traffic };
  }
  loadModel(slot: Slot, source: string, version: string): Promise<unknown> {
    return this.call('PUT', `/admin/v1/slots/${slot}`, { source, version });
  }
  setTraffic(canaryWeight: number, shadow: boolean): Promise<unknown> {
    return this.call('PUT', '/admin/v1/traffic', { canaryWeight, shadow });
  }
  /** The service reports "no data" as null; analysis reads it as zero requests, which is inconclusive, never a pass. */
  async stats(windowSeconds: number): Promise<WindowStats> {
    const s = await this.call<StatsOutput>('GET', `/admin/v1/stats?windowSeconds=${windowSeconds}`);
    return {
      stable: windowSlot(s.slots.stable),
      canary: windowSlot(s.slots.canary),
      shadow: { compared: s.shadow.compared, agreement: s.shadow.agreement ?? 0, chanceAgreement: s.shadow.chanceAgreement ?? undefined, errors: s.shadow.errors ?? 0 },
    };
  }
  promote(): Promise<unknown> {
    return this.call('POST', '/admin/v1/promote');
  }
  rollback(): Promise<unknown> {
    return this.call('POST', '/admin/v1/rollback');
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(120_000),
      });
    } catch (e) {
      // undici says only "fetch failed"; the socket error is its cause. A rolled-back rollout records this text.
      const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
      throw new Error(`inference ${method} ${path} unreachable: ${cause}`);
    }
    const text = await res.text();
    if (res.ok) return (text ? JSON.parse(text) : {}) as T;
    const message = `inference ${method} ${path} -> ${res.status}: ${text.slice(0, 500)}`;
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
      throw ApplicationFailure.nonRetryable(message, 'BadInput');
    }
    throw new Error(message);
  }
}

function windowSlot(s: SlotStats | undefined): SlotWindowStats {
  return {
    version: s?.version ?? undefined,
    requests: s?.requests ?? 0,
    errors: s?.errors ?? 0,
    latencyMs: { p50: s?.latencyMs.p50 ?? 0, p95: s?.latencyMs.p95 ?? 0, p99: s?.latencyMs.p99 ?? 0 },
    classCounts: s?.classCounts ?? {},
    meanConfidence: s?.meanConfidence ?? 0,
    faces: s?.faces ?? 0,
  };
}
