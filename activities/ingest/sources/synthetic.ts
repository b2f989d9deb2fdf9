import { z } from 'zod';
import { FACE_SIZE } from '../../../lib/labels';
import { SPLITS } from '../../../lib/dataset/manifest';
import { SampleCollector } from '../collector';
import { IngestContext, checkAborted } from '../context';
import { badSource } from '../errors';
import { GENERATOR_VERSION, SyntheticParams, renderSyntheticFace, splitPlan, validateSyntheticParams } from '../synthetic/generate';
import { defineSource } from './source';

/** Procedural FER-format faces: keyed by the generator version and parameters, nothing is read. */
export const synthetic = defineSource({
  kind: 'synthetic',
  input: z.object({
    kind: z.literal('synthetic'),
    size: z.number().optional(),
    seed: z.number().optional(),
    difficulty: z.number().optional(),
    balance: z.enum(['fer2013', 'uniform']).optional(),
  }).strict(),
  async open(input, env) {
    let params: SyntheticParams;
    try {
      params = validateSyntheticParams(input);
    } catch (err) {
      throw badSource((err as Error).message);
    }
    return {
      key: `synthetic-g${GENERATOR_VERSION}-n${params.size}-s${params.seed}-d${params.difficulty}-${params.balance}`,
      collect: async (collector) => {
        await collectSynthetic(params, collector, env.ctx);
        return { kind: 'synthetic' as const, ...params, generatorVersion: GENERATOR_VERSION };
      },
    };
  },
});

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
