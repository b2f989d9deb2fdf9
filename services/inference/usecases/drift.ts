import { z } from 'zod';
import { BRIGHTNESS_RANGE, CONTRAST_RANGE, HIST_BINS } from '../../../lib/drift';
import { LABELS } from '../../../lib/labels';
import type { ServiceContext } from '../context';
import { SLOT_NAMES } from '../runtime/slots';
import type { SlotDrift } from '../runtime/stats-ring';

export const driftQuery = z.object({
  windowSeconds: z.coerce.number().int().min(1).max(24 * 3600).default(600),
});

export interface DriftOutput {
  windowSeconds: number;
  /** How the histograms are binned, so a reader can rebuild the baseline with the same edges. */
  binning: { classes: string[]; bins: number; brightnessRange: [number, number]; contrastRange: [number, number] };
  slots: Record<string, SlotDrift>;
}

/** Live input statistics per slot over the window, for the drift monitor (lib/drift.ts compares them). */
export function drift(ctx: ServiceContext, windowSeconds: number): DriftOutput {
  const slots = Object.fromEntries(
    SLOT_NAMES.map((slot) => [slot, ctx.stats.drift(slot, ctx.slots.get(slot)?.info.version ?? null, windowSeconds)]),
  );
  return {
    windowSeconds,
    binning: { classes: [...LABELS], bins: HIST_BINS, brightnessRange: [...BRIGHTNESS_RANGE], contrastRange: [...CONTRAST_RANGE] },
    slots,
  };
}
