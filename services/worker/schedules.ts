import { type Duration, msToNumber, type Workflow } from '@temporalio/common';
import { type Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import type { PipelineInputOverrides } from '../../lib/pipeline-input';
import { DRIFT_MONITOR_WORKFLOW_ID, DRIFT_SCHEDULE_ID, HOUSEKEEPING_SCHEDULE_ID, HOUSEKEEPING_WORKFLOW_ID, TASK_QUEUE } from '../../lib/temporal-constants';
import { driftMonitorInputProblems } from '../../lib/workflow-input-check';
import type { DriftMonitorInput, driftMonitor } from '../../workflows/drift-monitor';
import type { housekeeping } from '../../workflows/housekeeping';

export interface DriftScheduleOptions {
  /** Interval between monitor runs, e.g. '10m' (default) or '5s' in tests. */
  every?: Duration;
  input?: DriftMonitorInput;
  taskQueue?: string;
  scheduleId?: string;
}

/** Creates or updates the Temporal Schedule that starts a driftMonitor every `every`. */
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
  return ensureSchedule(client, scheduleId, every, action, 'ferops drift monitor: live inputs vs the champion training data, retrains on drift');
}

export interface HousekeepingScheduleOptions {
  /** Interval between housekeeping runs, e.g. '5m' (default). */
  every?: Duration;
  taskQueue?: string;
  scheduleId?: string;
}

/**
 * Creates or updates the Temporal Schedule that starts `housekeeping` every `every`: it ends the MLflow runs of
 * pipelines that were terminated, and rolls back a canary that a terminated rollout left serving.
 */
export async function ensureHousekeepingSchedule(client: Client, o: HousekeepingScheduleOptions = {}): Promise<{ scheduleId: string; created: boolean }> {
  const action: ScheduleOptionsStartWorkflowAction<typeof housekeeping> = {
    type: 'startWorkflow',
    workflowType: 'housekeeping',
    workflowId: HOUSEKEEPING_WORKFLOW_ID,
    taskQueue: o.taskQueue ?? TASK_QUEUE,
    args: [],
    workflowExecutionTimeout: '30m',
  };
  const memo = 'ferops housekeeping: ends the MLflow runs of terminated pipelines, rolls back canaries of terminated rollouts';
  return ensureSchedule(client, o.scheduleId ?? HOUSEKEEPING_SCHEDULE_ID, o.every ?? '5m', action, memo);
}

/**
 * Creates the schedule, or updates it in place when it exists (a restart with a new interval or input changes the
 * schedule, never duplicates it). It shows in the Temporal UI under Schedules. Overlap SKIP: a slow run is never
 * doubled up.
 */
async function ensureSchedule(
  client: Client, scheduleId: string, every: Duration, action: ScheduleOptionsStartWorkflowAction<Workflow>, purpose: string,
): Promise<{ scheduleId: string; created: boolean }> {
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every }] },
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
      memo: { purpose },
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
 * The drift schedule as the worker configures it from the environment:
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
  // Checked here too, so that a worker with bad retraining overrides stops at start rather than only logging it.
  const problems = driftMonitorInputProblems(input);
  if (problems) throw new Error(`FEROPS_DRIFT_RETRAIN: bad drift monitor input: ${problems}`);
  // The monitor runs on the queue the worker serves workflows on (lib/config.ts FEROPS_TASK_QUEUE).
  return { every: interval(env, 'FEROPS_DRIFT_INTERVAL', '10m'), input, ...(env.FEROPS_TASK_QUEUE ? { taskQueue: env.FEROPS_TASK_QUEUE } : {}) };
}

/** A schedule interval from the environment: a Temporal duration of at least a second, refused naming its key. */
function interval(env: NodeJS.ProcessEnv, key: string, fallback: Duration): Duration {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  let ms: number;
  try {
    ms = msToNumber(raw as Duration);
  } catch {
    ms = NaN;
  }
  if (!(ms >= 1000)) throw new Error(`${key} must be a duration of at least 1s such as '30s', '10m' or '1h', got "${raw}"`);
  return raw as Duration;
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

/**
 * The housekeeping schedule as the worker configures it: FEROPS_HOUSEKEEPING_INTERVAL [5m] (a Temporal duration), on
 * the queue the worker serves workflows on.
 */
export function housekeepingScheduleFromEnv(env: NodeJS.ProcessEnv = process.env): HousekeepingScheduleOptions {
  return { every: interval(env, 'FEROPS_HOUSEKEEPING_INTERVAL', '5m'), ...(env.FEROPS_TASK_QUEUE ? { taskQueue: env.FEROPS_TASK_QUEUE } : {}) };
}

/** Ensures the drift and housekeeping schedules (each created, or updated in place). */
export async function ensureSchedules(client: Client, o: { drift: DriftScheduleOptions; housekeeping: HousekeepingScheduleOptions }): Promise<void> {
  await ensureDriftSchedule(client, o.drift);
  await ensureHousekeepingSchedule(client, o.housekeeping);
}
