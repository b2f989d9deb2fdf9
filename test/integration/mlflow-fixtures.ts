import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMlflow, type MlflowServer } from '../../infra/processes/mlflow';
import { randomUUID } from 'node:crypto';
import { logModel, registerModel } from '../../activities/register';
import { MlflowClient, type RetryOptions } from '../../lib/mlflow';
import { model } from '../../services/inference/testing/harness';

/** One real MLflow server per test file, in a throw-away directory; `restart` keeps the dir and the port. */
export interface MlflowFixture {
  dir: string;
  server: MlflowServer;
  client: MlflowClient;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMlflowFixture(retry?: RetryOptions): Promise<MlflowFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'ferops-'));
  // A failed test body can keep running after the file's `after` hook; a restart then must not leave an
  // orphaned server behind, so stop() waits for one in progress and later restarts are refused.
  let stopped = false;
  let restarting: Promise<unknown> = Promise.resolve();
  const fx: MlflowFixture = {
    dir,
    server: await startMlflow({ dir }),
    client: undefined as unknown as MlflowClient,
    async restart() {
      if (stopped) throw new Error('MLflow fixture already stopped');
      const next = startMlflow({ dir, port: fx.server.port });
      restarting = next.catch(() => undefined);
      fx.server = await next;
    },
    async stop() {
      stopped = true;
      await restarting;
      await fx.server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  fx.client = new MlflowClient({ baseUrl: fx.server.url, retry });
  return fx;
}

/** A name no other test in the same server uses. */
export const unique = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;

/** Registers a fixture model dir (services/inference/testing/harness) as a new version of `name`, gate open. */
export async function registerFixture(client: MlflowClient, name: string, experiment: string, fixture: string): Promise<string> {
  const experimentId = await client.getOrCreateExperiment(experiment);
  const run = await client.createRun({ experimentId });
  const ref = await logModel({ client, runId: run.info.run_id, experimentId, modelDir: model(fixture), name });
  const r = await registerModel({
    client, name, runId: run.info.run_id, runKey: `${fixture}-${randomUUID()}`, modelSource: ref,
    evaluation: { accuracy: 1 }, gate: { minAccuracy: 0, maxDropVsChampion: 1 },
  });
  return r.version!;
}
