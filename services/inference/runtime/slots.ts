import { createHash } from 'node:crypto';
import { AppError } from '../errors';
import type { LoadedModel } from './model';

export { SLOT_NAMES, type SlotName } from '../../../lib/inference-admin/wire';
import { SLOT_NAMES, type SlotName } from '../../../lib/inference-admin/wire';

export interface Route {
  slot: SlotName;
  model: LoadedModel;
  /** Canary model mirrored in shadow mode; its answer is compared, never returned. */
  shadow?: LoadedModel;
  /**
   * The generation served when the request was routed: its statistics count under it even if a new generation is
   * applied while it runs, so a window of one generation holds only requests routed under that deployment.
   */
  generation: number | null;
}

/**
 * The two live slots and the traffic split. Swaps are plain reference assignments: a request acquires the model
 * object when it is routed and releases it when done, and a replaced model is only retired (its session freed
 * when its last request releases it), so a swap can never fail or cut short a request in flight.
 */
export class Slots {
  private models: Partial<Record<SlotName, LoadedModel>> = {};
  /** Retired models whose sessions are not freed yet (requests still hold them). */
  private retiring = new Set<LoadedModel>();
  canaryWeight = 0;
  shadow = false;
  /** The fleet's desired-state generation these slots serve; null for a standalone service driven by admin calls. */
  generation: number | null = null;

  get(slot: SlotName): LoadedModel | undefined {
    return this.models[slot];
  }

  /** Puts `model` in `slot`; the previous occupant is retired. */
  set(slot: SlotName, model: LoadedModel): void {
    const prev = this.models[slot];
    this.models[slot] = model;
    if (prev && prev !== model) this.retire(prev);
  }

  clear(slot: SlotName): void {
    const prev = this.models[slot];
    delete this.models[slot];
    if (prev) this.retire(prev);
    if (slot === 'canary') {
      this.canaryWeight = 0;
      this.shadow = false;
    }
  }

  /**
   * Empties both slots and resolves once every model retired so far has freed its sessions. Shutdown waits for
   * this: a client that went away leaves its request's batch running on the inference thread, and exiting the
   * process under a running session aborts it (`Napi::Error`, seen after ViT-B/16 load at concurrency 32).
   */
  async close(): Promise<void> {
    for (const slot of SLOT_NAMES) this.clear(slot);
    await Promise.all([...this.retiring].map((m) => m.whenReleased));
  }

  private retire(model: LoadedModel): void {
    this.retiring.add(model);
    model.retire();
    void model.whenReleased.then(() => this.retiring.delete(model));
  }

  /**
   * Puts a whole deployment in place at once (a generation of the fleet's desired state): the same model may move
   * from canary to stable; models in neither slot afterwards are retired.
   */
  apply(next: { stable?: LoadedModel; canary?: LoadedModel; canaryWeight: number; shadow: boolean; generation: number }): void {
    const before = [this.models.stable, this.models.canary];
    this.models = {};
    if (next.stable) this.models.stable = next.stable;
    if (next.canary) this.models.canary = next.canary;
    this.canaryWeight = next.canary ? next.canaryWeight : 0;
    this.shadow = next.canary ? next.shadow : false;
    this.generation = next.generation;
    for (const m of new Set(before)) if (m && m !== next.stable && m !== next.canary) this.retire(m);
  }

  promote(): LoadedModel {
    const canary = this.models.canary;
    if (!canary) throw new AppError(409, 'no_canary', 'there is no canary model to promote');
    delete this.models.canary;
    this.canaryWeight = 0;
    this.shadow = false;
    this.set('stable', canary);
    return canary;
  }

  /**
   * Picks the slot for one request and acquires its model(s). With a route key the choice is a hash of the key,
   * so one client keeps seeing the same model while the weight is unchanged (sticky canary).
   */
  route(routeKey?: string): Route {
    const stable = this.models.stable;
    const canary = this.models.canary;
    if (!stable) throw new AppError(503, 'no_model', 'no stable model is loaded yet');
    if (canary && this.canaryWeight > 0 && bucket(routeKey) < this.canaryWeight) {
      return { slot: 'canary', model: canary.acquire(), generation: this.generation };
    }
    const route: Route = { slot: 'stable', model: stable.acquire(), generation: this.generation };
    if (canary && this.shadow) route.shadow = canary.acquire();
    return route;
  }
}

/** 0..99.99: a stable hash of the route key, or a random draw without one. */
function bucket(routeKey?: string): number {
  if (!routeKey) return Math.random() * 100;
  return createHash('sha256').update(routeKey).digest().readUInt32BE(0) / 0x1_0000_0000 * 100;
}
