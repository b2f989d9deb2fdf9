import { z } from 'zod';
import type { ServiceContext } from '../context';
import { SLOT_NAMES } from '../runtime/slots';
import type { ShadowStats, SlotStats } from '../runtime/stats-ring';

export const statsQuery = z.object({
  windowSeconds: z.coerce.number().int().min(1).max(24 * 3600).default(60),
});

export interface StatsOutput {
  windowSeconds: number;
  slots: Record<string, SlotStats>;
  shadow: ShadowStats;
}

/** Per-slot statistics of the current occupants over the window, for canary analysis. */
export function stats(ctx: ServiceContext, windowSeconds: number): StatsOutput {
  const slots = Object.fromEntries(
    SLOT_NAMES.map((slot) => [slot, ctx.stats.slot(slot, ctx.slots.get(slot)?.info.version ?? null, windowSeconds)]),
  );
  return { windowSeconds, slots, shadow: ctx.stats.shadow(windowSeconds) };
}
