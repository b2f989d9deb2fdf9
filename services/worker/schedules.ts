import type { Duration } from '@temporalio/common';
import { Client, Connection, ScheduleAlreadyRunning, ScheduleOverlapPolicy, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import type { PipelineInputOverrides } from '../lib/pipeline-input';
import { DRIFT_MONITOR_WORKFLOW_ID, DRIFT_SCHEDULE_ID, TASK_QUEUE } from '../lib/temporal-constants';
import { driftMonitorInputProblems } from '../lib/workflow-input-check';
import type { DriftMonitorInput, driftMonitor } from '../workflows/drift-monitor';

export interface DriftScheduleOptions {
  /** Interval between monitor runs, e.g. '10m' (default) or '5s' in tests. */
  every?: Duration;
  input?: DriftMonitorInput;
  taskQueue?: string;
  scheduleId?: string;
}

/**
 * Creates the Temporal Schedule that starts a driftMonitor every `every`, or updates it in place when it exists
 * (a restart with a new interval or input changes the schedule, never duplicates it). It shows in the Temporal
 * UI under Schedules. Overlap SKIP: a slow monitor run is never doubled up.
 */
export async function ensureDriftSchedule(client: Client, o: DriftScheduleOptions = {}): Promise<{ scheduleId: string; created: boolean }> {
  const problems = driftMonitorInputProblems(o.input);
  // Refused here rather than failing every run the schedule starts.
  if (problems) throw new Error(`bad drift monitor input: ${problems}`);
  const scheduleId = o.scheduleId ?? DRIFT_SCHEDULE_ID;
  const every = o.every ?? '10m';
  const action: ScheduleOptionsStartWorkflowAction<typeof driftMonitor> = {
    type: 'startWorkflow',
    workflowType: 'driftMonitor',
    workflowId: DRIFT_MONITOR_WORKFLOW_ID,
    taskQueue: o.taskQueue ?? TASK_QUEUE,
    args: [o.input ?? {}],
    workflowExecutionTimeout: '30m',
  };
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every }] },
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
      memo: { purpose: 'ferops drift monitor: live inputs vs the champion training data, retrains on drift' },
    });
    return { scheduleId, created: true };
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((prev) => ({
    ...prev,
    spec: { intervals: [{ every }] },
    action,
    policies: { ...prev.policies, overlap: ScheduleOverlapPolicy.SKIP },
  }));
  return { scheduleId, created: false };
}

/**
 * The schedule as the embedded stack configures it from the environment:
 * FEROPS_DRIFT_INTERVAL [10m] (a Temporal duration: '30s', '10m', '1h'), FEROPS_DRIFT_WINDOW_SECONDS [600],
 * FEROPS_DRIFT_PSI_THRESHOLD [0.25], FEROPS_DRIFT_MIN_SAMPLES [200], FEROPS_DRIFT_RETRAIN [none: the pipeline
 * defaults] (JSON pipeline-input overrides for the retraining, e.g. `{"dataset":{"kind":"image-folder","path":...}}`).
 */
export function driftScheduleFromEnv(env: NodeJS.ProcessEnv = process.env): DriftScheduleOptions {
  const num = (key: string): number | undefined => {
    const raw = env[key];
    if (raw === undefined || raw === '') return undefined;
    const v = Number(raw);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${key} must be a positive number, got "${raw}"`);
    return v;
  };
  const input: DriftMonitorInput = { windowSeconds: num('FEROPS_DRIFT_WINDOW_SECONDS'), psiThreshold: num('FEROPS_DRIFT_PSI_THRESHOLD'), minSamples: num('FEROPS_DRIFT_MIN_SAMPLES') };
  if (env.FEROPS_DRIFT_RETRAIN) input.retrain = parseRetrain(env.FEROPS_DRIFT_RETRAIN);
  // The monitor runs on the queue the worker serves workflows on (lib/config.ts FEROPS_TASK_QUEUE).
  return { every: (env.FEROPS_DRIFT_INTERVAL || '10m') as Duration, input, ...(env.FEROPS_TASK_QUEUE ? { taskQueue: env.FEROPS_TASK_QUEUE } : {}) };
}

function parseRetrain(raw: string): PipelineInputOverrides {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw new Error(`FEROPS_DRIFT_RETRAIN is not JSON: ${(err as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('FEROPS_DRIFT_RETRAIN must be a JSON object of pipeline input overrides');
  return v as PipelineInputOverrides;
}

/** Connects to Temporal at `address`, ensures the drift schedule, disconnects. */
export async function ensureDriftScheduleAt(address: string, o: DriftScheduleOptions): Promise<{ scheduleId: string; created: boolean }> {
  const connection = await Connection.connect({ address });
  try {
    return await ensureDriftSchedule(new Client({ connection }), o);
  } finally {
    await connection.close();
  }
}
