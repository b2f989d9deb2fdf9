import { ApplicationFailure } from '@temporalio/common';
import type { DeploymentState, Slot, WindowStats } from '../types';

/**
 * The inference service's admin API (services/inference, /admin/v1), as the deploy activities call it.
 * 4xx answers are the caller's fault and are not retried; 5xx and connection errors are, by Temporal.
 */
export class InferenceAdminClient {
  constructor(private readonly baseUrl: string, private readonly token: string) {}

  state(): Promise<DeploymentState> {
    return this.call('GET', '/admin/v1/slots');
  }
  loadModel(slot: Slot, source: string, version: string): Promise<unknown> {
    return this.call('PUT', `/admin/v1/slots/${slot}`, { source, version });
  }
  setTraffic(canaryWeight: number, shadow: boolean): Promise<unknown> {
    return this.call('PUT', '/admin/v1/traffic', { canaryWeight, shadow });
  }
  stats(windowSeconds: number): Promise<WindowStats> {
    return this.call('GET', `/admin/v1/stats?windowSeconds=${windowSeconds}`);
  }
  promote(): Promise<unknown> {
    return this.call('POST', '/admin/v1/promote');
  }
  rollback(): Promise<unknown> {
    return this.call('POST', '/admin/v1/rollback');
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(new URL(path, this.baseUrl), {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.text();
    if (res.ok) return (text ? JSON.parse(text) : {}) as T;
    const message = `inference ${method} ${path} -> ${res.status}: ${text.slice(0, 500)}`;
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
      throw ApplicationFailure.nonRetryable(message, 'BadInput');
    }
    throw new Error(message);
  }
}
