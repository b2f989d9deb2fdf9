import { setTimeout as sleep } from 'node:timers/promises';
import type { PipelineResult } from '../../workflows/training-pipeline';
import { readProgress, type LiveProgress, type PipelineHandle } from './pipeline-runner';
import { renderProgress } from './progress-line';

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
