import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import type { canaryRollout, RolloutResult } from '../../workflows/canary-rollout';
import { rolloutStateQuery } from '../../workflows/definitions';
import type { PipelineResult } from '../../workflows/training-pipeline';
import { readProgress, stalledWorkflowTask, type LiveProgress, type PipelineHandle } from './pipeline-runner';
import { renderProgress } from './progress-line';
import { decisionLine, rolloutLine } from './rollout-lines';

/**
 * Shows live progress until the pipeline closes, then returns its result (or throws its failure).
 * On a terminal the line redraws in place; otherwise (CI logs) a line is printed only when it changes.
 */
export async function follow(
  handle: PipelineHandle,
  opts: { out?: NodeJS.WriteStream; everyMs?: number; onProgress?: (p: LiveProgress) => void } = {},
): Promise<PipelineResult> {
  const out = opts.out ?? process.stdout;
  let last = '';
  for (;;) {
    const p = await readProgress(handle).catch(() => undefined);
    if (p) {
      opts.onProgress?.(p);
      const line = renderProgress(p);
      if (out.isTTY) out.write(`\r\x1b[2K${line}`);
      else if (line !== last) out.write(`${line}\n`);
      last = line;
      if (p.status !== 'RUNNING') break;
    }
    await sleep(opts.everyMs ?? 1000);
  }
  if (out.isTTY) out.write('\n');
  return handle.result();
}

/**
 * Prints a rollout's phase as it changes, each window's decision as it is made, and a workflow that no worker runs;
 * returns the rollout's result once it ends.
 */
export async function followRollout(
  handle: WorkflowHandle<typeof canaryRollout>, opts: { out?: NodeJS.WritableStream; everyMs?: number } = {},
): Promise<RolloutResult> {
  const out = opts.out ?? process.stdout;
  let last: string | undefined;
  let decisions = 0;
  for (;;) {
    // A Temporal restart while following is waited out, as follow() does: the rollout goes on meanwhile.
    const desc = await handle.describe().catch(() => undefined);
    const status = desc?.status.name ?? 'UNREACHABLE';
    const state = await handle.query(rolloutStateQuery).catch(() => undefined);
    for (const d of state?.decisions.slice(decisions) ?? []) out.write(`  ${decisionLine(d)}\n`);
    decisions = state?.decisions.length ?? decisions;
    const stalled = desc && stalledWorkflowTask(desc.raw.pendingWorkflowTask, desc.taskQueue, Date.now());
    const line = stalled ?? (state && rolloutLine(state));
    // A stall's seconds tick: it is printed as it begins, not every second.
    const key = stalled ? 'stalled' : line;
    if (line && key !== last && status === 'RUNNING') out.write(`${line}\n`);
    if (line) last = key;
    if (status !== 'RUNNING' && status !== 'UNREACHABLE') break;
    await sleep(opts.everyMs ?? 1000);
  }
  return handle.result();
}
