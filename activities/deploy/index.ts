import type { MlflowClient } from '../../lib/mlflow';
import type { Analysis } from '../../lib/canary-analysis';
import { changeDesiredState, readDesiredState, type DesiredChange } from '../../lib/inference-admin/desired-state';
import type { Fleet } from '../../lib/inference-admin/fleet';
import type { FleetStats, SlotStats } from '../../lib/inference-admin/stats';
import type { DeploymentState, Slot, SlotWindowStats, WindowStats } from '../../lib/inference-admin/window';
import { promoteChampion, tagRollback, tagValue } from '../register';

/**
 * Deploy activities. Each serving change is a new generation of the fleet's desired state (a registry tag the
 * replicas follow), and the activity returns once every replica that answers serves it. Repeating a change
 * writes nothing (lib/inference-admin/desired-state.ts), so a retried activity is harmless.
 */
export function createDeployActivities(fleet: Fleet, mlflow: MlflowClient, modelName: string) {
  const change = async (c: DesiredChange, reason: string): Promise<void> => {
    const desired = await changeDesiredState(mlflow, modelName, c, reason);
    await fleet.waitForGeneration(desired.generation);
  };
  return {
    async deploymentState(): Promise<DeploymentState> {
      const d = await readDesiredState(mlflow, modelName);
      return { stable: d.stable ?? undefined, canary: d.canary ?? undefined, canaryWeight: d.canaryWeight, shadow: d.shadow };
    },
    /** The model these activities deploy and the canary its fleet is told to serve (what housekeeping checks). */
    async deployedCanary(): Promise<{ modelName: string; canaryVersion?: string }> {
      const d = await readDesiredState(mlflow, modelName);
      return { modelName, canaryVersion: d.canary?.version };
    },
    async loadModel(a: { slot: Slot; source: string; version: string }): Promise<void> {
      const model = { source: a.source, version: a.version };
      // A new canary starts without traffic; its steps set the weight.
      await change(a.slot === 'stable' ? { stable: model } : { canary: model, canaryWeight: 0, shadow: false }, `load ${a.version} into ${a.slot}`);
    },
    async setTraffic(a: { canaryWeight: number; shadow: boolean }): Promise<void> {
      await change({ canaryWeight: a.canaryWeight, shadow: a.shadow }, `canary weight ${a.canaryWeight}${a.shadow ? ', shadow' : ''}`);
    },
    /** The window of the current generation, merged over every replica. */
    async readStats(a: { windowSeconds: number }): Promise<WindowStats> {
      const { generation } = await readDesiredState(mlflow, modelName);
      const { merged, perReplica } = await fleet.stats(a.windowSeconds, generation);
      return {
        ...windowStats(merged),
        fleet: {
          generation,
          replicas: perReplica.map((r) => ({ id: r.stats.replica.id, url: r.url, stable: r.stats.slots.stable?.requests ?? 0, canary: r.stats.slots.canary?.requests ?? 0 })),
        },
      };
    },
    /** The canary becomes stable. Nothing to do once that happened (a retry after the write landed). */
    async promoteService(): Promise<void> {
      const d = await readDesiredState(mlflow, modelName);
      if (d.canary) await change({ stable: d.canary, canary: null, canaryWeight: 0, shadow: false }, `promote ${d.canary.version}`);
      else await fleet.waitForGeneration(d.generation);
    },
    async rollbackService(): Promise<void> {
      await change({ canary: null, canaryWeight: 0, shadow: false }, 'roll back the canary');
    },
    async promoteChampion(a: { modelName: string; version: string; reason: string }): Promise<void> {
      await promoteChampion({ client: mlflow, name: a.modelName, version: a.version, reason: a.reason });
    },
    async tagRollback(a: { modelName: string; version: string; reason: string }): Promise<void> {
      await tagRollback({ client: mlflow, name: a.modelName, version: a.version, reason: a.reason });
    },
    /** Every canary window's verdict, its tests (test, effect, interval, p-value) and numbers, as version tags (MLflow UI). */
    async recordDecision(a: { modelName: string; version: string; key: string; analysis: Analysis }): Promise<void> {
      const value = JSON.stringify({ verdict: a.analysis.verdict, reasons: a.analysis.reasons, tests: a.analysis.tests, numbers: a.analysis.numbers });
      await mlflow.setModelVersionTag(a.modelName, a.version, `ferops.canary.${a.key}`, tagValue(value));
    },
  };
}

/** The analysis reads "no data" as zero requests, which is inconclusive, never a pass. */
function windowStats(s: FleetStats): Omit<WindowStats, 'fleet'> {
  return {
    stable: windowSlot(s.slots.stable),
    canary: windowSlot(s.slots.canary),
    shadow: { compared: s.shadow.compared, agreement: s.shadow.agreement ?? 0, chanceAgreement: s.shadow.chanceAgreement ?? undefined, errors: s.shadow.errors ?? 0 },
  };
}

function windowSlot(s: SlotStats | undefined): SlotWindowStats {
  return {
    version: s?.version ?? undefined,
    requests: s?.requests ?? 0,
    errors: s?.errors ?? 0,
    latencyMs: { p50: s?.latencyMs.p50 ?? 0, p95: s?.latencyMs.p95 ?? 0, p99: s?.latencyMs.p99 ?? 0 },
    latency: s?.latency,
    classCounts: s?.classCounts ?? {},
    meanConfidence: s?.meanConfidence ?? 0,
    faces: s?.faces ?? 0,
  };
}
