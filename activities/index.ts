import { join } from 'node:path';
import type { FeropsConfig } from '../lib/config';
import { MetricBuffer, MlflowClient } from '../lib/mlflow';
import { pythonBin, TRAINER_DIR } from '../lib/paths';
import { createDeployActivities } from './deploy';
import { discovery } from '../lib/inference-admin/discovery';
import { Fleet } from '../lib/inference-admin/fleet';
import { createMonitorActivities } from './monitor';
import { createEvaluateStage } from './pipeline/evaluate-stage';
import { createIngestStage } from './pipeline/ingest-stage';
import type { PipelineRunContext } from './pipeline/pipeline-run';
import { createRegisterStage } from './pipeline/register-stage';
import { logMetricsOnce } from './tracking';
import { createTrainActivity } from './train';

/**
 * Every activity, wired to real clients from the one config. The worker calls this once; tests call it with a
 * config pointing at their own servers, or replace single activities with fakes.
 */
export function createActivities(config: FeropsConfig) {
  const mlflow = new MlflowClient({ baseUrl: config.mlflowUrl });
  const run: PipelineRunContext = {
    mlflow,
    experimentName: config.mlflowExperiment,
    temporalUiUrl: `http://127.0.0.1:${config.temporalUiPort}`,
    namespace: config.temporalNamespace,
  };
  const runsDir = join(config.dataDir, 'runs');
  const fleet = new Fleet(discovery(config.inferenceDiscovery), config.adminToken);
  return {
    ingest: createIngestStage(run, config.dataDir, { kaggleApiBase: config.kaggleApiBase }),
    train: createTrainActivity({
      runsDir,
      python: pythonBin(),
      trainerDir: TRAINER_DIR,
      metricSink: (runId) => {
        const buffer = new MetricBuffer({ baseUrl: config.mlflowUrl, runId, intervalMs: 5_000 });
        return {
          log: (key, value, step) => buffer.add(key, value, step),
          flush: () => buffer.close(),
          ensure: async (points) => void (await logMetricsOnce(mlflow, runId, points)),
          setTags: (tags) => mlflow.setTags(runId, tags),
        };
      },
    }),
    evaluate: createEvaluateStage(run, { runsDir, modelCacheDir: join(config.dataDir, 'model-cache') }),
    register: createRegisterStage(run),
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
