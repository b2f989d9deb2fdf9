import { z } from 'zod';
import { MAX_WINDOW_SECONDS } from '../../../lib/inference-admin/wire';
import { driftBinning, type DriftOutput } from '../../../lib/inference-admin/drift';
import type { ServiceContext } from '../context';
import { SLOT_NAMES } from '../runtime/slots';
import { replicaIdentity } from './replica';
import { generationParam, queriedGeneration, queriedVersion } from './window-query';

export const driftQuery = z.object({
  windowSeconds: z.coerce.number().int().min(1).max(MAX_WINDOW_SECONDS).default(600),
  generation: generationParam,
});
export type DriftQuery = z.infer<typeof driftQuery>;

/** Live input statistics per slot over the window, of one generation only, for the drift monitor (lib/drift.ts compares them). */
export function drift(ctx: ServiceContext, q: DriftQuery): DriftOutput {
  const generation = queriedGeneration(ctx, q.generation);
  const slots = Object.fromEntries(
    SLOT_NAMES.map((slot) => [slot, ctx.stats.drift(slot, queriedVersion(ctx, slot, q.windowSeconds, generation), q.windowSeconds, generation)]),
  ) as DriftOutput['slots'];
  return { windowSeconds: q.windowSeconds, generation, replica: replicaIdentity(ctx), binning: driftBinning(), slots };
}
