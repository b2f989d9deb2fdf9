import type { MlflowClient } from '../../lib/mlflow';
import { type CheckDriftDeps, checkDrift } from './check-drift';
import { logDriftReport } from './log-report';
import type { DriftCheckInput, LogDriftInput } from './types';

export type { DriftCheckInput, DriftReport, LogDriftInput } from './types';

/** The driftMonitor's activities, over real clients; tests replace them with fakes or point them at test servers. */
export function createMonitorActivities(deps: CheckDriftDeps & { mlflow: MlflowClient }) {
  return {
    checkDrift: (input: DriftCheckInput) => checkDrift(deps, input),
    logDriftReport: (input: LogDriftInput) => logDriftReport(deps.mlflow, input),
  };
}
