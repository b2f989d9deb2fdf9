import { z } from 'zod';
import { MAX_WINDOW_SECONDS } from '../../../lib/inference-admin/wire';
import type { StatsOutput } from '../../../lib/inference-admin/stats';
import type { ServiceContext } from '../context';
import { SLOT_NAMES } from '../runtime/slots';
import { replicaIdentity } from './replica';
import { generationParam, queriedGeneration, queriedVersion } from './window-query';

export const statsQuery = z.object({
  windowSeconds: z.coerce.number().int().min(1).max(MAX_WINDOW_SECONDS).default(60),
  generation: generationParam,
});
export type StatsQuery = z.infer<typeof statsQuery>;

/** Per-slot statistics over the window, of one generation only, for canary analysis (merged over the fleet by the caller). */
export function stats(ctx: ServiceContext, q: StatsQuery): StatsOutput {
  const generation = queriedGeneration(ctx, q.generation);
  const slots = Object.fromEntries(
    SLOT_NAMES.map((slot) => [slot, ctx.stats.slot(slot, queriedVersion(ctx, slot, q.windowSeconds, generation), q.windowSeconds, generation)]),
  ) as StatsOutput['slots'];
  return { windowSeconds: q.windowSeconds, generation, replica: replicaIdentity(ctx), slots, shadow: ctx.stats.shadow(q.windowSeconds, generation) };
}
