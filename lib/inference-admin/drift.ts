/**
 * GET /admin/v1/drift: one replica's live input statistics per slot, binned with lib/drift.ts so they compare
 * against a training baseline, and their fleet merge. Histograms are counts and the rates come with the counts
 * they are computed from, so the merge sums and recomputes.
 */
import { BRIGHTNESS_RANGE, CONTRAST_RANGE, type DriftFeatureName, type DriftFeatures, HIST_BINS } from '../drift';
import { LABELS } from '../labels';
import { commonVersion, commonWindow, type FleetWindow, type ReplicaWindow, round3, sum, sumArrays } from './replica-window';
import { SLOT_NAMES, type SlotName } from './wire';

/** What one slot saw in the window; every field sums across replicas. */
export interface SlotDriftCounts {
  version: string | null;
  /** Successful requests. */
  requests: number;
  /** Successful requests in which at least one face was found. */
  requestsWithFace: number;
  faces: number;
  /** Sum of the top-class probability over the faces. */
  confidenceSum: number;
  features: DriftFeatures;
}

export interface SlotDrift extends SlotDriftCounts {
  /** Share of successful requests in which at least one face was found. */
  faceDetectionRate: number | null;
  meanConfidence: number | null;
}

/** How the histograms are binned, so a reader can rebuild the baseline with the same edges. */
export interface DriftBinning {
  classes: string[];
  bins: number;
  brightnessRange: [number, number];
  contrastRange: [number, number];
}

export interface DriftOutput extends ReplicaWindow {
  binning: DriftBinning;
  slots: Record<SlotName, SlotDrift>;
}

/** Several replicas' answers for one window and generation, merged. */
export interface FleetDrift extends FleetWindow {
  binning: DriftBinning;
  slots: Record<SlotName, SlotDrift>;
}

export const driftBinning = (): DriftBinning => ({
  classes: [...LABELS],
  bins: HIST_BINS,
  brightnessRange: [...BRIGHTNESS_RANGE],
  contrastRange: [...CONTRAST_RANGE],
});

/** The counts with the rates derived from them. */
export function slotDrift(c: SlotDriftCounts): SlotDrift {
  return {
    ...c,
    faceDetectionRate: c.requests ? round3(c.requestsWithFace / c.requests) : null,
    meanConfidence: c.faces ? round3(c.confidenceSum / c.faces) : null,
  };
}

/**
 * One window over the whole fleet: histograms and counts summed, rates recomputed. Throws on the same mismatches as
 * mergeStats, on answers binned differently, and on answers without the raw counts.
 */
export function mergeDrift(outputs: readonly DriftOutput[]): FleetDrift {
  const window = commonWindow(outputs, 'mergeDrift');
  const binning = JSON.stringify(outputs[0].binning);
  for (const o of outputs) {
    if (JSON.stringify(o.binning) !== binning) throw new Error(`mergeDrift: replica ${o.replica.id} bins its histograms differently: ${JSON.stringify(o.binning)}, not ${binning}`);
    const old = SLOT_NAMES.filter((slot) => typeof o.slots?.[slot]?.requestsWithFace !== 'number' || typeof o.slots[slot].confidenceSum !== 'number');
    if (old.length) throw new Error(`mergeDrift: replica ${o.replica.id} answered no raw counts for ${old.join(', ')} (a service older than fleet statistics?)`);
  }
  const slots = Object.fromEntries(
    SLOT_NAMES.map((slot) => {
      const each = outputs.map((o) => o.slots[slot]);
      const summed = (f: DriftFeatureName) => sumArrays(`mergeDrift ${slot} ${f}`, each.map((s) => s.features[f]));
      return [
        slot,
        slotDrift({
          version: commonVersion(slot, outputs.map((o) => ({ replica: o.replica.id, version: o.slots[slot].version }))),
          requests: sum(each.map((s) => s.requests)),
          requestsWithFace: sum(each.map((s) => s.requestsWithFace)),
          faces: sum(each.map((s) => s.faces)),
          confidenceSum: sum(each.map((s) => s.confidenceSum)),
          features: { classes: summed('classes'), brightness: summed('brightness'), contrast: summed('contrast') },
        }),
      ];
    }),
  ) as Record<SlotName, SlotDrift>;
  return { ...window, binning: outputs[0].binning, slots };
}
