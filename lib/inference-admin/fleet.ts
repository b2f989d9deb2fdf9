import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { InferenceAdminClient, ReplicaUnreachable } from './client';
import type { Discover } from './discovery';
import { mergeDrift, type FleetDrift } from './drift';
import { mergeStats, type FleetStats, type StatsOutput } from './stats';
import type { SlotsState } from './wire';

export interface ReplicaView { url: string; state?: SlotsState; unreachable?: string }

export interface FleetOptions {
  /** Per admin call; a replica slower than this counts as unreachable for that round. */
  callTimeoutMs?: number;
  pollMs?: number;
  /** How long waitForGeneration waits before it fails (retryably). */
  convergeTimeoutMs?: number;
}

/**
 * The deploy and monitor activities' view of every replica: who is there (discovery), which generation of the
 * desired state each serves, and window statistics merged over all of them. Replicas converge on their own
 * (they poll the desired state); this only waits for them and reads them.
 */
export class Fleet {
  private readonly callTimeoutMs: number;
  private readonly pollMs: number;
  private readonly convergeTimeoutMs: number;

  constructor(private readonly discover: Discover, private readonly token: string, o: FleetOptions = {}) {
    this.callTimeoutMs = o.callTimeoutMs ?? 5_000;
    this.pollMs = o.pollMs ?? 250;
    this.convergeTimeoutMs = o.convergeTimeoutMs ?? 120_000;
  }

  client = (url: string) => new InferenceAdminClient(url, this.token, this.callTimeoutMs);

  /** Every discovered replica's slots, or why it did not answer. A refusal (bad token) is thrown, not skipped. */
  async view(): Promise<ReplicaView[]> {
    const urls = await this.discover();
    return Promise.all(urls.map(async (url) => {
      try {
        return { url, state: await this.client(url).slots() };
      } catch (e) {
        if (e instanceof ReplicaUnreachable) return { url, unreachable: e.message };
        throw e;
      }
    }));
  }

  /**
   * Resolves once every replica that answers serves `generation` or a later one (and at least one answers).
   * A replica that answers and refused it (a model it will not load) fails this for good; one that stays behind
   * past the timeout, including one whose registry download keeps failing, fails it retryably. Unreachable
   * replicas are not waited for: they catch up by themselves when they return, and a load balancer sends them
   * nothing meanwhile.
   */
  async waitForGeneration(generation: number): Promise<ReplicaView[]> {
    const deadline = Date.now() + this.convergeTimeoutMs;
    for (;;) {
      const views = await this.view();
      const answering = views.filter((v) => v.state);
      for (const v of answering) {
        const d = v.state!.deployment;
        if (d.following === null) {
          throw ApplicationFailure.nonRetryable(`replica ${v.url} does not follow the desired state (start it with FEROPS_DESIRED_STATE=mlflow)`, 'BadInput');
        }
        // A replica of a version before `retryable` existed reports every failure as a refusal, as it meant then.
        if (d.error?.generation === generation && d.error.retryable !== true && (d.generation ?? -1) < generation) {
          throw ApplicationFailure.nonRetryable(`replica ${v.state!.replica.id} (${v.url}) could not apply generation ${generation}: ${d.error.message}`, 'BadInput');
        }
      }
      if (answering.length > 0 && answering.every((v) => (v.state!.deployment.generation ?? -1) >= generation)) return views;
      if (Date.now() > deadline) {
        throw new Error(`the fleet did not converge to generation ${generation} in ${this.convergeTimeoutMs / 1000} s: ${describe(views)}`);
      }
      await sleep(this.pollMs);
    }
  }

  /**
   * One window's statistics of `generation`, summed and merged over every replica that answers. Refused (retried
   * by the caller) while any answering replica still serves an earlier generation: no window is read across two
   * deployment states. Each replica counts only requests it served under `generation`.
   */
  async stats(windowSeconds: number, generation: number): Promise<{ merged: FleetStats; perReplica: { url: string; stats: StatsOutput }[] }> {
    const answering = await this.converged(generation);
    const perReplica = await Promise.all(answering.map(async (url) => ({ url, stats: await this.client(url).stats(windowSeconds, generation) })));
    return { merged: mergeStats(perReplica.map((r) => r.stats)), perReplica };
  }

  /**
   * Drift statistics over every replica that answers, for the newest generation any of them serves (a replica
   * still converging contributes what it served under it, usually nothing); standalone replicas count everything.
   */
  async drift(windowSeconds: number): Promise<FleetDrift> {
    const views = (await this.view()).filter((v) => v.state);
    if (views.length === 0) throw new Error('no inference replica answers');
    const generations = views.map((v) => v.state!.deployment.generation).filter((g): g is number => g !== null);
    const generation = generations.length ? Math.max(...generations) : undefined;
    return mergeDrift(await Promise.all(views.map((v) => this.client(v.url).drift(windowSeconds, generation))));
  }

  private async converged(generation: number): Promise<string[]> {
    const views = await this.view();
    const answering = views.filter((v) => v.state);
    if (answering.length === 0) throw new Error(`no inference replica answers: ${describe(views)}`);
    const behind = answering.filter((v) => (v.state!.deployment.generation ?? -1) < generation);
    if (behind.length > 0) throw new Error(`replicas disagree on the deployment (want generation ${generation}): ${describe(views)}`);
    return answering.map((v) => v.url);
  }
}

function describe(views: ReplicaView[]): string {
  return views.map((v) => (v.state ? `${v.url} at generation ${v.state.deployment.generation ?? 'none'}${v.state.deployment.error ? ` (error: ${v.state.deployment.error.message})` : ''}` : `${v.url} unreachable`)).join('; ') || 'no replicas discovered';
}
