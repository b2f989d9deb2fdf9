import { FACE_SIZE } from '../../../lib/labels';
import { SPLITS } from '../../../lib/dataset/manifest';
import { SampleCollector } from '../collector';
import { IngestContext, checkAborted } from '../context';
import { SyntheticParams, renderSyntheticFace, splitPlan } from '../synthetic/generate';

/** Renders the whole synthetic set into the collector, split by the seeded stratified plan. */
export async function collectSynthetic(params: SyntheticParams, collector: SampleCollector, ctx: IngestContext): Promise<void> {
  const plan = splitPlan(params);
  const face = new Uint8Array(FACE_SIZE * FACE_SIZE);
  const scratch = new Float32Array(FACE_SIZE * FACE_SIZE);
  let index = 0;
  for (const split of SPLITS) {
    for (const label of plan[split]) {
      renderSyntheticFace(params, index, label, face, scratch);
      collector.add(split, label, face, `synthetic #${index}`);
      index++;
      if (index % 250 === 0) {
        ctx.onProgress({ phase: 'generate', done: index, total: params.size });
        // let heartbeats and cancellation through between batches
        await new Promise((resolve) => setImmediate(resolve));
        checkAborted(ctx);
      }
    }
  }
  ctx.onProgress({ phase: 'generate', done: index, total: params.size });
}
