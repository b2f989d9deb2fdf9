import { ApplicationFailure } from '@temporalio/common';
import type { DriftOutput } from '../../services/inference/usecases/drift';

/** GET /admin/v1/drift of the inference service. 4xx (bad token, bad window) is not retried; the rest is. */
export async function fetchLiveDrift(baseUrl: string, token: string, windowSeconds: number): Promise<DriftOutput> {
  const path = `/admin/v1/drift?windowSeconds=${windowSeconds}`;
  const res = await fetch(new URL(path, baseUrl), { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (res.ok) return JSON.parse(text) as DriftOutput;
  const message = `inference GET ${path} -> ${res.status}: ${text.slice(0, 300)}`;
  if (res.status >= 400 && res.status < 500) throw ApplicationFailure.nonRetryable(message, 'InferenceRejected');
  throw new Error(message);
}
