import type { MlflowClient } from '../../lib/mlflow';
import type { Analysis } from '../../lib/canary-analysis';
import type { DeploymentState, Slot, WindowStats } from '../types';
import type { InferenceAdminClient } from './inference-admin-client';
import { promoteChampion, tagRollback } from '../register';

/**
 * Deploy activities: thin, idempotent calls on the inference admin API and the MLflow registry. Loading the
 * same version into the same slot twice, or setting the same weight twice, leaves the same state.
 */
export function createDeployActivities(inference: InferenceAdminClient, mlflow: MlflowClient) {
  return {
    deploymentState: (): Promise<DeploymentState> => inference.state(),
    async loadModel(a: { slot: Slot; source: string; version: string }): Promise<void> {
      await inference.loadModel(a.slot, a.source, a.version);
    },
    async setTraffic(a: { canaryWeight: number; shadow: boolean }): Promise<void> {
      await inference.setTraffic(a.canaryWeight, a.shadow);
    },
    readStats: (a: { windowSeconds: number }): Promise<WindowStats> => inference.stats(a.windowSeconds),
    async promoteService(): Promise<void> {
      await inference.promote();
    },
    async rollbackService(): Promise<void> {
      await inference.rollback();
    },
    async promoteChampion(a: { modelName: string; version: string; reason: string }): Promise<void> {
      await promoteChampion({ client: mlflow, name: a.modelName, version: a.version, reason: a.reason });
    },
    async tagRollback(a: { modelName: string; version: string; reason: string }): Promise<void> {
      await tagRollback({ client: mlflow, name: a.modelName, version: a.version, reason: a.reason });
    },
    /** Every canary window's verdict and numbers, as version tags (MLflow UI: the version's tags). */
    async recordDecision(a: { modelName: string; version: string; key: string; analysis: Analysis }): Promise<void> {
      const value = JSON.stringify({ verdict: a.analysis.verdict, reasons: a.analysis.reasons, numbers: a.analysis.numbers });
      await mlflow.setModelVersionTag(a.modelName, a.version, `ferops.canary.${a.key}`, value.slice(0, 5000));
    },
  };
}
