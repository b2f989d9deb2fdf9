import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, WorkflowIdReusePolicy } from '@temporalio/common';
import { canonicalJson, withDefaults, type PipelineInputOverrides } from '../../lib/pipeline-input';
import { checkPipelineInput } from '../../lib/workflow-input-check';
import type { PipelineProgress } from '../../lib/pipeline-progress';
import { pipelineWorkflowId } from '../../lib/temporal-constants';
import type { TrainHeartbeat } from '../../activities/train';
import type { trainingPipeline } from '../../workflows';
import { progressQuery } from '../../workflows/definitions';

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

export interface LiveProgress { status: string; progress?: PipelineProgress; training?: TrainHeartbeat }

/** The pipeline's own progress query plus the train activity's last heartbeat (epoch, loss). */
export async function readProgress(handle: WorkflowHandle): Promise<LiveProgress> {
  const desc = await handle.describe();
  const progress = await handle.query(progressQuery).catch(() => undefined);
  const beat = desc.raw.pendingActivities?.find((a) => a.activityType?.name === 'train')?.heartbeatDetails?.payloads?.[0];
  const training = beat ? defaultPayloadConverter.fromPayload<TrainHeartbeat>(beat) : undefined;
  return { status: desc.status.name, progress, training };
}
