import type { ServiceContext } from '../context';
import { parseRegistrySource } from '../runtime/model-source';
import type { SlotName } from '../runtime/slots';

/** What anyone may read about the deployment: versions, traffic split, links. No sources, paths or checksums. */
export interface PublicSlot {
  version: string;
  /** The registered model version in the MLflow UI; null for a model loaded from a directory or without FEROPS_MLFLOW_UI_URL. */
  mlflowUrl: string | null;
}

export interface PublicStatus {
  stable: PublicSlot | null;
  canary: PublicSlot | null;
  canaryWeight: number;
  shadow: boolean;
  /** The fleet's desired-state generation served; null for a standalone service. */
  generation: number | null;
  links: {
    /** With a canary from the registry: the Temporal UI's list of the workflows that trained it (its rollout among them); else the UI. */
    temporal: string | null;
    mlflow: string | null;
  };
}

export function publicStatus(ctx: ServiceContext): PublicStatus {
  const { temporalUiUrl, mlflowUiUrl } = ctx.config;
  const canaryVersion = registryVersion(ctx, 'canary');
  return {
    stable: slot(ctx, 'stable'),
    canary: slot(ctx, 'canary'),
    canaryWeight: ctx.slots.canaryWeight,
    shadow: ctx.slots.shadow,
    generation: ctx.deployment.status().generation,
    links: {
      temporal: temporalUiUrl && canaryVersion ? `${trim(temporalUiUrl)}/workflows?query=${encodeURIComponent(`FeropsModelVersion="${canaryVersion.version}"`)}` : (temporalUiUrl ?? null),
      mlflow: mlflowUiUrl ?? null,
    },
  };
}

function slot(ctx: ServiceContext, name: SlotName): PublicSlot | null {
  const model = ctx.slots.get(name);
  if (!model) return null;
  const registered = registryVersion(ctx, name);
  const base = ctx.config.mlflowUiUrl;
  return {
    version: model.info.version,
    mlflowUrl: base && registered ? `${trim(base)}/#/models/${encodeURIComponent(registered.name)}/versions/${registered.version}` : null,
  };
}

function registryVersion(ctx: ServiceContext, name: SlotName): { name: string; version: string } | null {
  // Only a pinned version has a page of its own in the MLflow UI (the fleet's desired state always pins one).
  const parsed = parseRegistrySource(ctx.slots.get(name)?.info.source ?? '');
  return parsed?.version ? { name: parsed.name, version: parsed.version } : null;
}

const trim = (url: string) => url.replace(/\/+$/, '');
