import { setTimeout as sleep } from 'node:timers/promises';
import { changeDesiredState, registrySource } from '../../lib/inference-admin/desired-state';
import { discovery } from '../../lib/inference-admin/discovery';
import { Fleet } from '../../lib/inference-admin/fleet';
import { MlflowClient } from '../../lib/mlflow';
import type { InferenceConfig } from '../../services/inference/config';
import type { RunningServer } from '../../services/inference/server';
import { ADMIN_TOKEN, startTestServer } from '../../services/inference/testing/harness';

/** Makes `version` the desired stable model of `modelName` (a fleet's first deployment). */
export async function desireStable(mlflowUrl: string, modelName: string, version: string): Promise<void> {
  await changeDesiredState(new MlflowClient({ baseUrl: mlflowUrl }), modelName, { stable: { version, source: registrySource(modelName, version) } }, 'test baseline');
}

/** A replica that follows `modelName`'s desired state, polled quickly; resolves once it is ready (has applied it). */
export async function startFollowingService(mlflowUrl: string, modelName: string, overrides: Partial<InferenceConfig> = {}): Promise<RunningServer> {
  const service = await startTestServer({ mlflowUrl, desiredState: 'mlflow', modelName, desiredStatePollMs: 200, ...overrides });
  for (const end = Date.now() + 60_000; Date.now() < end; await sleep(100)) {
    if ((await fetch(`${service.url}/readyz`)).ok) return service;
  }
  await service.stop();
  throw new Error(`the following replica did not become ready: ${await (await fetch(`${service.url}/readyz`)).text()}`);
}

/** The deploy activities' view of these replicas' admin URLs. */
export const fleetOf = (...adminUrls: string[]) => new Fleet(discovery(adminUrls.join(',')), ADMIN_TOKEN, { pollMs: 100 });
