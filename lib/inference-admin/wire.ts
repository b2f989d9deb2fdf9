/**
 * The inference admin API's wire types (/admin/v1), shared by the service that answers it and by everything that
 * calls it (deploy and monitor activities, the embedded stack, tests). One definition, so that both ends change
 * together.
 */

export type SlotName = 'stable' | 'canary';
export const SLOT_NAMES: readonly SlotName[] = ['stable', 'canary'];

/** The longest window (seconds) GET /admin/v1/stats and /drift count over: a canary's longest look must fit in it. */
export const MAX_WINDOW_SECONDS = 24 * 3600;

/** A model version in a slot, as the registry names it ("3"), and where it was loaded from. */
export interface SlotModel { version: string; source: string }

/** GET /admin/v1/slots: one slot's occupant. */
export interface SlotView extends SlotModel {
  slot: SlotName;
  checksum: string;
  loadedAt: string;
}

/**
 * The fleet's desired deployment: what every replica should serve. Kept outside the replicas (lib/inference-admin/
 * desired-state.ts), changed only by the deploy activities; `generation` grows by one with every change, so a
 * replica's state is "converged" exactly when it reports the desired generation.
 */
export interface DesiredState {
  generation: number;
  stable: SlotModel | null;
  canary: SlotModel | null;
  canaryWeight: number;
  shadow: boolean;
  /** ISO time of the change, and why (the rollout step), for people reading the registry. */
  updatedAt: string;
  reason: string;
}

/** How a replica follows the desired state (null fields while it has applied none). */
export interface ReplicaDeployment {
  /** The registered model whose desired state it follows; null for a standalone service driven by admin calls. */
  following: string | null;
  /** The generation it serves; null before its first apply, or when it follows nothing. */
  generation: number | null;
  appliedAt: string | null;
  /**
   * The last generation it could not apply, and why (a model the service refused, the registry unreachable), and
   * whether trying again may succeed: false for a model it refused, true for a registry or network failure.
   */
  error: { generation: number | null; message: string; at: string; retryable: boolean } | null;
}

/** Who answered: one replica of the fleet. */
export interface ReplicaIdentity { id: string; startedAt: string }

export interface SlotsState {
  stable: SlotView | null;
  canary: SlotView | null;
  traffic: { canaryWeight: number; shadow: boolean };
  replica: ReplicaIdentity;
  deployment: ReplicaDeployment;
}

/** PUT /admin/v1/slots/:slot */
export interface LoadSlotRequest { source: string; version?: string }
/** PUT /admin/v1/traffic */
export interface TrafficRequest { canaryWeight?: number; shadow?: boolean }
