import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../activities';
import type { DeploymentState, SlotWindowStats, WindowStats } from '../../activities/types';

/**
 * In-memory stand-ins for the activities, for workflow tests only: they record what the workflow asked for,
 * and let a test script the service's statistics. The real activities have their own integration tests.
 */
export interface FakeWorld {
  calls: string[];
  deployment: DeploymentState;
  stats: (phase: { canaryWeight: number; shadow: boolean }) => WindowStats;
  accuracy: number;
  trainFailure?: 'bad_input';
  /** Ingest attempts that fail as if MLflow were away, before one succeeds. */
  ingestOutages?: number;
}

export const goodSlot = (o: Partial<SlotWindowStats> = {}): SlotWindowStats => ({
  requests: 100, errors: 0, latencyMs: { p50: 10, p95: 20, p99: 30 },
  classCounts: { happy: 40, sad: 30, neutral: 30 }, meanConfidence: 0.8, faces: 100, ...o,
});
export const healthyStats = (): WindowStats => ({ stable: goodSlot(), canary: goodSlot(), shadow: { compared: 100, agreement: 0.95, errors: 0 } });

export function fakeActivities(world: FakeWorld): Activities {
  const rec = (name: string) => world.calls.push(name);
  const a: Partial<Activities> = {
    async ingest(i) {
      rec('ingest');
      if ((world.ingestOutages ?? 0) > 0) {
        world.ingestOutages!--;
        throw new Error('MLflow unreachable: connect ECONNREFUSED 127.0.0.1:5000');
      }
      return { datasetId: 'abc123', uri: `/tmp/datasets/abc123`, splits: { train: 80, val: 10, test: 10 }, rejected: 0, reused: false, mlflowRunId: `run-${i.workflowId}` };
    },
    async train() {
      rec('train');
      if (world.trainFailure === 'bad_input') throw ApplicationFailure.nonRetryable('bad_config: train.epochs must be >= 1', 'BadInput');
      return { outputDir: '/tmp/out', modelDir: '/tmp/out/model', epochsRun: 3, bestValAccuracy: 0.6, test: { accuracy: world.accuracy, macroF1: 0.5 } };
    },
    async evaluate() {
      rec('evaluate');
      return { accuracy: world.accuracy, macroF1: 0.5, ece: 0.05, latencyP50Ms: 1, latencyP99Ms: 2 };
    },
    async register(i) {
      rec('register');
      if (i.evaluation.accuracy < i.gate.minAccuracy) return { decision: 'refused', reason: `accuracy ${i.evaluation.accuracy} < floor ${i.gate.minAccuracy}` };
      return { decision: 'registered', version: '7', reason: 'passed the gate' };
    },
    async deploymentState() {
      rec('deploymentState');
      return world.deployment;
    },
    async loadModel(i) {
      rec(`loadModel:${i.slot}:${i.version}`);
      world.deployment[i.slot] = { version: i.version, source: i.source };
    },
    async setTraffic(i) {
      rec(`setTraffic:${i.canaryWeight}:${i.shadow}`);
      Object.assign(world.deployment, i);
    },
    async readStats() {
      rec('readStats');
      return world.stats(world.deployment);
    },
    async promoteService() {
      rec('promoteService');
      world.deployment = { stable: world.deployment.canary, canaryWeight: 0, shadow: false };
    },
    async rollbackService() {
      rec('rollbackService');
      world.deployment = { stable: world.deployment.stable, canaryWeight: 0, shadow: false };
    },
    async promoteChampion() {
      rec('promoteChampion');
    },
    async tagRollback(i) {
      rec('tagRollback');
      // As MLflow does: a tag value must be a string (the real call answers 400 INVALID_PARAMETER_VALUE).
      if (typeof i.reason !== 'string') throw new Error(`MLflow 400 INVALID_PARAMETER_VALUE: Invalid value ${JSON.stringify(i.reason)} for parameter 'value'`);
    },
    async recordDecision() {
      rec('recordDecision');
    },
    async closePipelineRun(i) {
      rec(`closePipelineRun:${i.outcome}:${i.reason}`);
      return { closed: true };
    },
  };
  return a as Activities;
}
