import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from '@temporalio/worker';
import { createDeployActivities } from '../../activities/deploy';
import { ingestDataset } from '../../activities/ingest';
import { promoteChampion } from '../../activities/register';
import type { RunningServer } from '../../services/inference/server';
import { registerFixture, startMlflowFixture, type MlflowFixture } from '../integration/mlflow-fixtures';
import { desireStable, fleetOf, startFollowingService } from './following-service';
import { startTemporalTestEnv, type TemporalTestEnv } from './temporal-env';

/**
 * Where rollouts run for real: a Temporal dev server, an MLflow registry whose model `modelName` has a `strips`
 * version serving as stable and champion, an inference replica following its desired state, a synthetic dataset
 * whose test crops a load generator can send, and a worker with the real deploy activities (plus `activities`).
 */
export interface RolloutLab {
  mlflow: MlflowFixture;
  temporal: TemporalTestEnv;
  service: RunningServer;
  datasetUri: string;
  taskQueue: string;
  stable: string;
  /** Registers a fresh version of a test model fixture (test/fixtures/models). */
  register(fixture: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startRolloutLab(modelName: string, activities: (mlflow: MlflowFixture) => object = () => ({})): Promise<RolloutLab> {
  // Whatever started is stopped again if a later step fails, so that a failed start leaves no server behind.
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
  };
  try {
    const [mlflow, temporal] = await Promise.all([startMlflowFixture(), startTemporalTestEnv()]);
    stops.push(() => mlflow.stop(), () => temporal.teardown());
    const dataRoot = mkdtempSync(join(tmpdir(), 'ferops-rollout-lab-'));
    stops.push(() => rmSync(dataRoot, { recursive: true, force: true }));
    const register = (fixture: string) => registerFixture(mlflow.client, modelName, modelName, fixture);
    const datasetUri = (await ingestDataset({ kind: 'synthetic', size: 400, seed: 5 }, { dataRoot })).uri;
    const stable = await register('strips');
    await desireStable(mlflow.server.url, modelName, stable);
    const service = await startFollowingService(mlflow.server.url, modelName);
    stops.push(() => service.stop());
    await promoteChampion({ client: mlflow.client, name: modelName, version: stable, reason: 'baseline' });
    const taskQueue = `rollout-lab-${randomUUID()}`;
    const worker: Worker = await temporal.createWorker({
      taskQueue, activities: { ...activities(mlflow), ...createDeployActivities(fleetOf(service.url), mlflow.client, modelName) },
    });
    const workerDone = worker.run();
    stops.push(async () => {
      worker.shutdown();
      await workerDone;
    });
    return { mlflow, temporal, service, datasetUri, taskQueue, stable, register, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
