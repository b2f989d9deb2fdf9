import { join } from 'node:path';
import type { FeropsConfig } from '../lib/config';
import { discovery } from '../lib/inference-admin/discovery';
import { Fleet } from '../lib/inference-admin/fleet';
import { MetricBuffer, MlflowClient } from '../lib/mlflow';
import { pythonBin, TRAINER_DIR } from '../lib/paths';
import { createDeployActivities } from './deploy';
import { createEvaluateActivity } from './evaluate';
import { createHousekeepingActivities } from './housekeeping';
import { createIngestActivity } from './ingest';
import { createMonitorActivities } from './monitor';
import { createClosePipelineRunActivity, reopenPipelineRun } from './pipeline/run-status';
import type { PipelineRunContext } from './pipeline/pipeline-run';
import { createRegisterActivity } from './register';
import { logMetricsOnce } from './tracking';
import { createTrainActivity } from './train';

/** The clients every activity shares: the worker builds real ones (`activityDeps`), a test passes its own. */
export interface ActivityDeps {
  config: FeropsConfig;
  mlflow: MlflowClient;
  /** The inference replicas' admin APIs, for the deploy and monitor activities. */
  fleet: Fleet;
}

/** Real clients from the one config: MLflow at FEROPS_MLFLOW_URL, replicas found by FEROPS_INFERENCE_DISCOVERY. */
export function activityDeps(config: FeropsConfig): ActivityDeps {
  return {
    config,
    mlflow: new MlflowClient({ baseUrl: config.mlflowUrl }),
    // Without a token every admin call is refused by the service (401), which names the missing token.
    fleet: new Fleet(discovery(config.inferenceDiscovery), config.adminToken ?? ''),
  };
}

/** Every activity, wired to the given clients; each stage's wrapper comes from its own folder's index.ts. */
export function createActivities({ config, mlflow, fleet }: ActivityDeps) {
  const run: PipelineRunContext = { mlflow, experimentName: config.mlflowExperiment, temporalUiUrl: config.temporalUiUrl };
  const runsDir = join(config.dataDir, 'runs');
  return {
    ingest: createIngestActivity(run, config.dataDir, { kaggleApiBase: config.kaggleApiBase }),
    train: createTrainActivity({
      runsDir,
      python: pythonBin(),
      trainerDir: TRAINER_DIR,
      nproc: config.trainNproc,
      stallMs: config.trainStallSeconds * 1000,
      metricSink: (runId) => {
        const buffer = new MetricBuffer({ baseUrl: mlflow.baseUrl, runId, intervalMs: 5_000 });
        return {
          log: (key, value, step) => buffer.add(key, value, step),
          flush: () => buffer.close(),
          ensure: async (points) => void (await logMetricsOnce(mlflow, runId, points)),
          setTags: (tags) => mlflow.setTags(runId, tags),
          reopen: async () => reopenPipelineRun(mlflow, await mlflow.getRun(runId)),
        };
      },
    }),
    // Its own dir: an inference service of the embedded stack removes from <data dir>/model-cache what it stops serving.
    evaluate: createEvaluateActivity(run, { runsDir, modelCacheDir: join(config.dataDir, 'evaluate-cache') }),
    register: createRegisterActivity(run),
    closePipelineRun: createClosePipelineRunActivity(run),
    ...createHousekeepingActivities(run),
    ...createDeployActivities(fleet, mlflow, config.modelName),
    ...createMonitorActivities({
      mlflow,
      modelName: config.modelName,
      fleet,
      baselineCacheDir: join(config.dataDir, 'monitoring', 'baselines'),
    }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
