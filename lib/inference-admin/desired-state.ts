import { z } from 'zod';
import type { DesiredState } from './wire';

/**
 * The fleet's desired deployment, kept in the MLflow registry as one tag of the registered model. Why there: the
 * registry already holds the versions and the champion alias, every replica already reads it to download models,
 * it is durable (MLflow's SQL store), and people see it in the MLflow UI beside the versions (docs/deployment.md).
 * Only the deploy activities write it; replicas poll it (services/inference/runtime/desired-state-follower.ts).
 */
export const DESIRED_STATE_TAG = 'ferops.deployment';

/** The slice of lib/mlflow's client this needs; tests may pass a fake. */
export interface DesiredStateStore {
  getRegisteredModel(name: string): Promise<{ tags?: { key: string; value: string }[] } | null>;
  getModelVersionByAlias(name: string, alias: string): Promise<{ version: string } | null>;
  setRegisteredModelTag(name: string, key: string, value: string): Promise<void>;
}

const slotModel = z.object({ version: z.string().min(1), source: z.string().min(1) }).nullable();
const desiredStateSchema = z.object({
  generation: z.number().int().min(0),
  stable: slotModel,
  canary: slotModel,
  canaryWeight: z.number().int().min(0).max(100),
  shadow: z.boolean(),
  updatedAt: z.string(),
  reason: z.string(),
});

export const registrySource = (modelName: string, version: string) => `models:/${modelName}/${version}`;

/**
 * The desired state, or, before any was written, generation 0: the champion alias as stable (what a fresh
 * replica served before fleets had a desired state), or nothing when no version is champion yet.
 */
export async function readDesiredState(store: DesiredStateStore, modelName: string): Promise<DesiredState> {
  const model = await store.getRegisteredModel(modelName);
  const tag = model?.tags?.find((t) => t.key === DESIRED_STATE_TAG)?.value;
  if (tag !== undefined) {
    const parsed = desiredStateSchema.safeParse(safeJson(tag));
    if (!parsed.success) throw new Error(`registry tag ${DESIRED_STATE_TAG} of ${modelName} is not a desired state: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return parsed.data;
  }
  const champion = model ? await store.getModelVersionByAlias(modelName, 'champion') : null;
  return {
    generation: 0,
    stable: champion ? { version: champion.version, source: registrySource(modelName, champion.version) } : null,
    canary: null,
    canaryWeight: 0,
    shadow: false,
    updatedAt: new Date(0).toISOString(),
    reason: champion ? 'no desired state written yet: the champion' : 'no desired state written yet',
  };
}

export type DesiredChange = Partial<Pick<DesiredState, 'stable' | 'canary' | 'canaryWeight' | 'shadow'>>;

/**
 * Applies `change` to the current desired state as the next generation. A change that changes nothing writes
 * nothing and keeps the generation, so an activity retried after its write landed does not start another one.
 * One writer at a time: the rollout holding the model's deployment lease (workflows/deployment-lease.ts), so
 * read-then-write needs no compare-and-set.
 */
export async function changeDesiredState(store: DesiredStateStore, modelName: string, change: DesiredChange, reason: string): Promise<DesiredState> {
  const current = await readDesiredState(store, modelName);
  const next: DesiredState = { ...current, ...change };
  if (sameServing(current, next) && current.generation > 0) return current;
  const written: DesiredState = { ...next, generation: current.generation + 1, updatedAt: new Date().toISOString(), reason: reason.slice(0, 500) };
  await store.setRegisteredModelTag(modelName, DESIRED_STATE_TAG, JSON.stringify(written));
  return written;
}

/** Whether two states serve the same thing (generation, time and reason aside). */
function sameServing(a: Pick<DesiredState, 'stable' | 'canary' | 'canaryWeight' | 'shadow'>, b: typeof a): boolean {
  const same = (x: DesiredState['stable'], y: DesiredState['stable']) => (x?.version ?? null) === (y?.version ?? null) && (x?.source ?? null) === (y?.source ?? null);
  return same(a.stable, b.stable) && same(a.canary, b.canary) && a.canaryWeight === b.canaryWeight && a.shadow === b.shadow;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
