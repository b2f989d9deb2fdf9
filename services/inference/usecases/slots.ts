import { z } from 'zod';
import type { ServiceContext } from '../context';
import { AppError } from '../errors';
import { loadModel } from '../runtime/model';
import { SLOT_NAMES, type SlotName } from '../runtime/slots';

export const slotParam = z.enum(SLOT_NAMES as [SlotName, ...SlotName[]]);

/**
 * Every answer carries the version in the x-model-version header, where a line break or a character outside
 * Latin-1 throws (every predict was a 500): printable ASCII only, no space at either end.
 */
const VERSION_RULE = 'printable ASCII without line breaks or control characters, and no space at either end';
const modelVersion = z.string().min(1).max(200).regex(/^[!-~](?:[ -~]*[!-~])?$/, `must be ${VERSION_RULE}`);

export const loadSlotBody = z.object({
  source: z.string().min(1).max(4096),
  version: modelVersion.optional(),
});
export type LoadSlotBody = z.infer<typeof loadSlotBody>;

export const trafficBody = z
  .object({
    canaryWeight: z.number().int().min(0).max(100).optional(),
    shadow: z.boolean().optional(),
  })
  .refine((b) => b.canaryWeight !== undefined || b.shadow !== undefined, 'give canaryWeight and/or shadow');
export type TrafficBody = z.infer<typeof trafficBody>;

export interface SlotView {
  slot: SlotName;
  version: string;
  source: string;
  checksum: string;
  loadedAt: string;
}

/**
 * Loads a model into a slot. The new model is fully loaded, validated and warmed up before the slot is touched,
 * so a refused model (422) leaves the slot's previous model serving.
 */
export async function loadSlot(ctx: ServiceContext, slot: SlotName, body: LoadSlotBody): Promise<SlotView> {
  return ctx.adminLock(async () => {
    const resolved = await ctx.modelSource.resolve(body.source);
    const version = body.version ?? resolved.version;
    if (!modelVersion.safeParse(version).success) {
      const from = body.version === undefined ? ', derived from the source,' : '';
      throw new AppError(400, 'invalid_request', `version: ${JSON.stringify(version)}${from} must be ${VERSION_RULE}; give one in "version"`);
    }
    const model = await loadModel(resolved.dir, { version, source: body.source }, ctx.sessionOptions);
    ctx.slots.set(slot, model);
    ctx.logger.info('model loaded', { slot, version: model.info.version, source: body.source, checksum: model.info.checksum });
    return view(ctx, slot)!;
  });
}

export async function clearCanary(ctx: ServiceContext): Promise<SlotsState> {
  return ctx.adminLock(async () => {
    ctx.slots.clear('canary');
    ctx.logger.info('canary cleared');
    return slotsState(ctx);
  });
}

export async function setTraffic(ctx: ServiceContext, body: TrafficBody): Promise<SlotsState> {
  return ctx.adminLock(async () => {
    const wantsCanary = (body.canaryWeight ?? 0) > 0 || body.shadow === true;
    if (wantsCanary && !ctx.slots.get('canary')) {
      throw new AppError(409, 'no_canary', 'load a canary model before sending it traffic or shadow requests');
    }
    if (body.canaryWeight !== undefined) ctx.slots.canaryWeight = body.canaryWeight;
    if (body.shadow !== undefined) ctx.slots.shadow = body.shadow;
    ctx.logger.info('traffic set', { canaryWeight: ctx.slots.canaryWeight, shadow: ctx.slots.shadow });
    return slotsState(ctx);
  });
}

export async function promote(ctx: ServiceContext): Promise<SlotsState> {
  return ctx.adminLock(async () => {
    const model = ctx.slots.promote();
    ctx.logger.info('canary promoted', { version: model.info.version });
    return slotsState(ctx);
  });
}

export async function rollback(ctx: ServiceContext): Promise<SlotsState> {
  return ctx.adminLock(async () => {
    const was = ctx.slots.get('canary')?.info.version ?? null;
    ctx.slots.clear('canary');
    ctx.logger.info('canary rolled back', { version: was });
    return slotsState(ctx);
  });
}

export interface SlotsState {
  stable: SlotView | null;
  canary: SlotView | null;
  traffic: { canaryWeight: number; shadow: boolean };
}

export function slotsState(ctx: ServiceContext): SlotsState {
  return {
    stable: view(ctx, 'stable'),
    canary: view(ctx, 'canary'),
    traffic: { canaryWeight: ctx.slots.canaryWeight, shadow: ctx.slots.shadow },
  };
}

function view(ctx: ServiceContext, slot: SlotName): SlotView | null {
  const m = ctx.slots.get(slot);
  if (!m) return null;
  const { version, source, checksum, loadedAt } = m.info;
  return { slot, version, source, checksum, loadedAt };
}
