import { createHash } from 'node:crypto';
import { decodePendingActivityState, PendingActivityState, WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Timestamp, WorkflowIdReusePolicy } from '@temporalio/common';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { canonicalJson, withDefaults, type PipelineInputOverrides } from '../../lib/pipeline-input';
import { checkPipelineInput } from '../../lib/workflow-input-check';
import { endedStages, type PipelineProgress } from '../../lib/pipeline-progress';
import { pipelineWorkflowId, rolloutWorkflowId } from '../../lib/temporal-constants';
import type { Progress as IngestHeartbeat } from '../../activities/ingest/context';
import type { TrainHeartbeat } from '../../activities/train';
import type { trainingPipeline } from '../../workflows';
import { progressQuery, rolloutStateQuery } from '../../workflows/definitions';

export type PipelineHandle = WorkflowHandle<typeof trainingPipeline>;

/** The documented id scheme: the same filled-in input always maps to the same workflow id. */
export function pipelineIdFor(overrides: PipelineInputOverrides): string {
  const input = withDefaults(overrides);
  const hash = createHash('sha256').update(canonicalJson(input)).digest('hex').slice(0, 12);
  return pipelineWorkflowId(input.modelName, hash);
}

/**
 * Starts a trainingPipeline, or attaches to the one with the same id: starting the same pipeline twice never
 * runs it twice (a finished one is not re-run either; pass another id to retrain on purpose).
 */
export async function startOrAttach(
  client: Client,
  taskQueue: string,
  overrides: PipelineInputOverrides,
  id = pipelineIdFor(overrides),
): Promise<{ handle: PipelineHandle; attached: boolean }> {
  // The workflow checks its input too; checked here, a mistake costs no workflow and says so at once.
  const checked = checkPipelineInput(overrides);
  if (checked.problems !== undefined) throw new Error(`bad pipeline input: ${checked.problems}`);
  try {
    const handle = await client.workflow.start<typeof trainingPipeline>('trainingPipeline', {
      taskQueue,
      workflowId: id,
      args: [checked.input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
    return { handle, attached: false };
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) return { handle: client.workflow.getHandle(id), attached: true };
    throw e;
  }
}

export interface LiveProgress {
  status: string;
  progress?: PipelineProgress;
  training?: TrainHeartbeat;
  /** The ingest activity's last heartbeat: its phase (hashing, decoding, downloading...) and how far it is. */
  ingesting?: IngestHeartbeat;
  /** Why the running stage is not moving, when it is not: its activity retrying after a failure, or not picked up. */
  stalled?: string;
}

/** The pipeline's own progress query, the train activity's last heartbeat (epoch, loss), and a stalled activity. */
export async function readProgress(handle: WorkflowHandle): Promise<LiveProgress> {
  const desc = await handle.describe();
  const progress = await handle.query(progressQuery).catch(() => undefined);
  const pending = desc.raw.pendingActivities ?? [];
  const beat = <T>(activity: string): T | undefined => {
    const payload = pending.find((a) => a.activityType?.name === activity)?.heartbeatDetails?.payloads?.[0];
    return payload ? defaultPayloadConverter.fromPayload<T>(payload) : undefined;
  };
  const training = beat<TrainHeartbeat>('train');
  const ingesting = beat<IngestHeartbeat>('ingest');
  const stalled = pending.map((a) => stalledActivity(a, Date.now())).find((note) => note !== undefined)
    ?? stalledWorkflowTask(desc.raw.pendingWorkflowTask, desc.taskQueue, Date.now())
    ?? (progress?.stage === 'rollout' ? await rolloutWaiting(handle) : undefined);
  return {
    status: desc.status.name,
    progress: progress && endedStages(progress, desc.status.name),
    training,
    ...(ingesting ? { ingesting } : {}),
    ...(stalled ? { stalled } : {}),
  };
}

/** A rollout queued behind another rollout of its model (workflows/deployment-lease.ts) says so, and where to look. */
async function rolloutWaiting(pipeline: WorkflowHandle): Promise<string | undefined> {
  const rollout = pipeline.client.getHandle(rolloutWorkflowId(pipeline.workflowId));
  const state = await rollout.query(rolloutStateQuery).catch(() => undefined);
  return state?.phase === 'waiting_for_deployment' ? `rollout waiting its turn: another rollout of this model holds ${state.waitingFor}` : undefined;
}

/** A pending activity as describe() reports it: the parts that say whether it is stuck. */
export interface PendingActivity {
  activityType?: { name?: string | null } | null;
  state?: number | null;
  attempt?: number | null;
  scheduledTime?: Timestamp | null;
  lastFailure?: { message?: string | null } | null;
}

/** No worker has taken an activity scheduled this long ago: worth saying (its queue may have no worker at all). */
const UNCLAIMED_MS = 30_000;

/**
 * Why an activity is not moving, or undefined: retrying after a failure (MLflow away, say, which the pipeline waits
 * out), or scheduled and not taken by any worker. Without it a stalled pipeline shows only its stage name.
 */
export function stalledActivity(a: PendingActivity, nowMs: number): string | undefined {
  const name = a.activityType?.name ?? 'activity';
  if ((a.attempt ?? 1) > 1 && a.lastFailure?.message) return `${name} attempt ${a.attempt}, last failure: ${a.lastFailure.message}`;
  const scheduledAt = optionalTsToMs(a.scheduledTime);
  const waitedMs = scheduledAt === undefined ? 0 : nowMs - scheduledAt;
  if (decodePendingActivityState(a.state) === PendingActivityState.SCHEDULED && waitedMs >= UNCLAIMED_MS) {
    return `${name} waiting ${Math.round(waitedMs / 1000)} s for a worker to take it`;
  }
  return undefined;
}

/** PENDING_WORKFLOW_TASK_STATE_SCHEDULED in Temporal's API (the client exports no decoder for it; a test checks it). */
export const WORKFLOW_TASK_SCHEDULED = 1;

/** A pending workflow task as describe() reports it. */
export interface PendingWorkflowTask {
  state?: number | null;
  attempt?: number | null;
  scheduledTime?: Timestamp | null;
}

/**
 * Why the workflow itself is not moving: its task has waited 30 s for a worker on its queue (none polls it), or has
 * been taken before without being completed (the worker that took it stopped, hangs, or fails it). Without it a
 * pipeline whose worker is down read `starting`, and a rollout printed nothing at all.
 */
export function stalledWorkflowTask(t: PendingWorkflowTask | null | undefined, taskQueue: string, nowMs: number): string | undefined {
  const attempt = t?.attempt ?? 1;
  if (attempt > 1) {
    return `workflow task tried ${attempt} times without completing (a worker stopped, stuck or failing it: see its log); task queue ${taskQueue}`;
  }
  if (t?.state !== WORKFLOW_TASK_SCHEDULED) return undefined;
  const scheduledAt = optionalTsToMs(t.scheduledTime);
  const waitedMs = scheduledAt === undefined ? 0 : nowMs - scheduledAt;
  return waitedMs >= UNCLAIMED_MS ? `workflow waiting ${Math.round(waitedMs / 1000)} s for a worker on task queue ${taskQueue}` : undefined;
}
