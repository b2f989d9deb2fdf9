import { z } from 'zod';
import type { ServiceContext } from '../context';
import { AppError } from '../errors';
import type { LoadSlotRequest, SlotsState, SlotView } from '../../../lib/inference-admin/wire';
import { type LoadedModel, loadModel } from '../runtime/model';
import { SLOT_NAMES, type SlotName } from '../runtime/slots';
import { replicaIdentity } from './replica';

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
export type LoadSlotBody = LoadSlotRequest;

export const trafficBody = z
  .object({
    canaryWeight: z.number().int().min(0).max(100).optional(),
    shadow: z.boolean().optional(),
  })
  .refine((b) => b.canaryWeight !== undefined || b.shadow !== undefined, 'give canaryWeight and/or shadow');
export type TrafficBody = z.infer<typeof trafficBody>;

/** Resolves, loads, validates and warms up a model without touching any slot; a refused model throws (422). */
export async function prepareModel(ctx: ServiceContext, body: LoadSlotBody): Promise<LoadedModel> {
  const resolved = await ctx.modelSource.resolve(body.source);
  const version = body.version ?? resolved.version;
  if (!modelVersion.safeParse(version).success) {
    const from = body.version === undefined ? ', derived from the source,' : '';
    throw new AppError(400, 'invalid_request', `version: ${JSON.stringify(version)}${from} must be ${VERSION_RULE}; give one in "version"`);
  }
  return loadModel(resolved.dir, { version, source: body.source }, ctx.sessionOptions);
}

/**
 * A replica that follows the fleet's desired state takes slot changes only from it: an admin call would be undone
 * at the next poll, and would make this replica disagree with the others meanwhile.
 */
function assertAdminDriven(ctx: ServiceContext): void {
  const following = ctx.deployment.status().following;
  if (following !== null) {
    throw new AppError(409, 'follows_desired_state', `this replica serves the desired state of ${following} in the registry; change it through a rollout, not on one replica`);
  }
}

/**
 * Loads a model into a slot. The new model is fully loaded, validated and warmed up before the slot is touched,
 * so a refused model (422) leaves the slot's previous model serving.
 */
export async function loadSlot(ctx: ServiceContext, slot: SlotName, body: LoadSlotBody): Promise<SlotView> {
  assertAdminDriven(ctx);
  return ctx.adminLock(async () => {
    const model = await prepareModel(ctx, body);
    ctx.slots.set(slot, model);
    ctx.logger.info('model loaded', { slot, version: model.info.version, source: body.source, checksum: model.info.checksum });
    return view(ctx, slot)!;
  });
}

export async function clearCanary(ctx: ServiceContext): Promise<SlotsState> {
  assertAdminDriven(ctx);
  return ctx.adminLock(async () => {
    ctx.slots.clear('canary');
    ctx.logger.info('canary cleared');
    return slotsState(ctx);
  });
}

export async function setTraffic(ctx: ServiceContext, body: TrafficBody): Promise<SlotsState> {
  assertAdminDriven(ctx);
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
  assertAdminDriven(ctx);
  return ctx.adminLock(async () => {
    const model = ctx.slots.promote();
    ctx.logger.info('canary promoted', { version: model.info.version });
    return slotsState(ctx);
  });
}

export async function rollback(ctx: ServiceContext): Promise<SlotsState> {
  assertAdminDriven(ctx);
  return ctx.adminLock(async () => {
    const was = ctx.slots.get('canary')?.info.version ?? null;
    ctx.slots.clear('canary');
    ctx.logger.info('canary rolled back', { version: was });
    return slotsState(ctx);
  });
}

export function slotsState(ctx: ServiceContext): SlotsState {
  return {
    stable: view(ctx, 'stable'),
    canary: view(ctx, 'canary'),
    traffic: { canaryWeight: ctx.slots.canaryWeight, shadow: ctx.slots.shadow },
    replica: replicaIdentity(ctx),
    deployment: ctx.deployment.status(),
  };
}

function view(ctx: ServiceContext, slot: SlotName): SlotView | null {
  const m = ctx.slots.get(slot);
  if (!m) return null;
  const { version, source, checksum, loadedAt } = m.info;
  return { slot, version, source, checksum, loadedAt };
}
