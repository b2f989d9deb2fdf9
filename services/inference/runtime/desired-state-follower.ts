import { setTimeout as sleep } from 'node:timers/promises';
import { readDesiredState, type DesiredStateStore } from '../../../lib/inference-admin/desired-state';
import type { DesiredState, ReplicaDeployment, SlotModel, SlotName } from '../../../lib/inference-admin/wire';
import { AppError } from '../errors';
import type { LoadedModel } from './model';
import type { Slots } from './slots';

export interface FollowerDeps {
  slots: Slots;
  store: DesiredStateStore;
  modelName: string;
  pollMs: number;
  /** Resolves, loads, validates and warms a model (usecases/slots.ts prepareModel); throws if it is refused. */
  prepare(model: SlotModel): Promise<LoadedModel>;
  /** Serialises with admin operations. */
  lock<T>(fn: () => Promise<T>): Promise<T>;
  log(message: string, fields: Record<string, unknown>): void;
}

/**
 * The registry client's budget for one read of the desired state: a few quick tries, since the next poll is the
 * retry. With the client's default (about a minute of tries, for activities that must outlast a restart) a read
 * made while MLflow was away held up SIGTERM for as long, and reported the outage that late.
 */
export const DESIRED_STATE_READ = { retry: { attempts: 3, totalTimeoutMs: 5_000 }, requestTimeoutMs: 5_000 };

/**
 * A generation whose model was refused is tried again this many polls later, not every poll (a refused model stays
 * refused); one that failed on the registry or the network is tried again at every poll.
 */
const RETRY_REFUSED_EVERY_POLLS = 10;

/**
 * Makes one replica serve the fleet's desired state: it polls the registry every `pollMs`, and when the generation
 * changed it loads what the new state needs first (reusing models it already holds), then swaps the whole state in
 * at once. Until the first apply the replica is not ready; when the registry is away it keeps serving what it has.
 */
export class DesiredStateFollower {
  private appliedAt: string | null = null;
  /**
   * What was applied, by generation and write time: two writers that both wrote generation G+1 (two rollouts of
   * one model at once) leave one tag, the last write, and every replica ends on it rather than on whichever it saw.
   */
  private applied: string | undefined;
  private error: ReplicaDeployment['error'] = null;
  private failedPolls = 0;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly d: FollowerDeps) {}

  status(): ReplicaDeployment {
    return { following: this.d.modelName, generation: this.d.slots.generation, appliedAt: this.appliedAt, error: this.error };
  }

  start(): void {
    this.loop ??= (async () => {
      while (!this.stopping.signal.aborted) {
        await this.syncOnce();
        await sleep(this.d.pollMs, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  /** One poll: apply the desired state if its generation is not the one served. Never throws. */
  async syncOnce(): Promise<void> {
    let desired: DesiredState;
    try {
      desired = await readDesiredState(this.d.store, this.d.modelName);
    } catch (e) {
      this.fail(null, `reading the desired state: ${message(e)}`, true);
      return;
    }
    // Stopping: a read that finished after the signal must not load models into slots that are closing.
    if (this.stopping.signal.aborted) return;
    if (appliedKey(desired) === this.applied) return;
    if (this.error?.generation === desired.generation && !this.error.retryable && ++this.failedPolls % RETRY_REFUSED_EVERY_POLLS !== 0) return;
    try {
      await this.d.lock(() => this.apply(desired));
    } catch (e) {
      // The service's own refusals (4xx: a bad model, a missing version) stay; anything else (the registry 502 after
      // its retries, a full disk, a timeout) may heal, and the deploy activities wait for it rather than give up.
      this.fail(desired.generation, message(e), !(e instanceof AppError && e.status < 500));
    }
  }

  private async apply(desired: DesiredState): Promise<void> {
    // Loaded for this state but not yet in a slot: freed again if a later load fails.
    const fresh: LoadedModel[] = [];
    const modelFor = async (want: SlotModel) => {
      const m = await this.modelFor(want);
      if (m !== this.d.slots.get('stable') && m !== this.d.slots.get('canary')) fresh.push(m);
      return m;
    };
    let stable: LoadedModel | undefined;
    let canary: LoadedModel | undefined;
    try {
      stable = desired.stable ? await modelFor(desired.stable) : undefined;
      canary = desired.canary ? await modelFor(desired.canary) : undefined;
    } catch (e) {
      for (const m of fresh) m.retire();
      throw e;
    }
    this.d.slots.apply({ stable, canary, canaryWeight: desired.canaryWeight, shadow: desired.shadow, generation: desired.generation });
    this.applied = appliedKey(desired);
    this.appliedAt = new Date().toISOString();
    this.error = null;
    this.failedPolls = 0;
    this.d.log('desired state applied', { generation: desired.generation, stable: desired.stable?.version ?? null, canary: desired.canary?.version ?? null, canaryWeight: desired.canaryWeight, shadow: desired.shadow });
  }

  /** The model already in either slot when it is the same version from the same source (a promotion moves it). */
  private async modelFor(want: SlotModel): Promise<LoadedModel> {
    for (const slot of ['stable', 'canary'] as SlotName[]) {
      const m = this.d.slots.get(slot);
      if (m && m.info.version === want.version && m.info.source === want.source) return m;
    }
    return this.d.prepare(want);
  }

  private fail(generation: number | null, text: string, retryable: boolean): void {
    if (this.error?.generation !== generation || this.error.message !== text) this.d.log('desired state not applied', { generation, error: text, retryable });
    this.error = { generation, message: text, at: new Date().toISOString(), retryable };
  }
}

const appliedKey = (d: DesiredState) => `${d.generation}@${d.updatedAt}`;
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
