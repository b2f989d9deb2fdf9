import { z } from 'zod';
import type { SlotName } from '../../../lib/inference-admin/wire';
import type { ServiceContext } from '../context';

/**
 * `generation` of GET /admin/v1/stats and /drift: digits only (z.coerce would read "" as 0). Without it a window
 * counts the generation the replica serves now, so it never mixes two deployment states either.
 */
export const generationParam = z
  .string()
  .regex(/^\d{1,15}$/, 'must be a non-negative integer')
  .transform(Number)
  .optional();

/** The generation a window query counts: the one asked for, or the one served now (null for a standalone service). */
export const queriedGeneration = (ctx: ServiceContext, asked: number | undefined): number | null => asked ?? ctx.slots.generation;

/**
 * The version whose records a slot's window counts: the occupant under the generation served now; under another
 * generation (the replica moved on, or has not applied it yet), the version the slot served then, if any.
 */
export function queriedVersion(ctx: ServiceContext, slot: SlotName, windowSeconds: number, generation: number | null): string | null {
  if (generation === ctx.slots.generation) return ctx.slots.get(slot)?.info.version ?? null;
  return ctx.stats.versionServed(slot, windowSeconds, generation);
}
