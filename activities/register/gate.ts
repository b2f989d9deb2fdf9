import { wilsonLowerBound } from '../../lib/proportion';

export interface GateConfig {
  /** Refuse unless, with 95 % confidence, test accuracy is at least this (0..1). */
  minAccuracy: number;
  /** Refuse when accuracy is more than this below the champion's (0..1, absolute points). */
  maxDropVsChampion: number;
}

export interface GateNumbers {
  accuracy: number;
  /** Test faces the accuracy was measured on, and the 95 % lower bound it allows (absent when the count is unknown). */
  testCount?: number;
  accuracyLowerBound?: number;
  minAccuracy: number;
  maxDropVsChampion: number;
  championVersion?: string;
  championAccuracy?: number;
  /** championAccuracy - accuracy (positive = the candidate is worse). */
  dropVsChampion?: number;
}

export interface GateResult {
  pass: boolean;
  reason: string;
  numbers: GateNumbers;
}

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

/**
 * The registration gate: a pure decision over measured numbers, so it is unit-tested without a server. The floor
 * is judged on the accuracy's 95 % lower bound over `testCount` faces (when given), so a small test split cannot
 * clear it on luck.
 */
export function applyGate(accuracy: number, gate: GateConfig, champion?: { version?: string; accuracy: number }, testCount?: number): GateResult {
  for (const [k, v] of Object.entries({ accuracy, ...gate, ...(champion ? { championAccuracy: champion.accuracy } : {}) })) {
    if (!Number.isFinite(v) || v < 0 || v > 1) throw new Error(`gate: ${k} must be a number in [0, 1], got ${v}`);
  }
  const numbers: GateNumbers = { accuracy, minAccuracy: gate.minAccuracy, maxDropVsChampion: gate.maxDropVsChampion };
  if (testCount !== undefined) Object.assign(numbers, { testCount, accuracyLowerBound: wilsonLowerBound(accuracy, testCount) });
  if (champion) {
    numbers.championVersion = champion.version;
    numbers.championAccuracy = champion.accuracy;
    numbers.dropVsChampion = champion.accuracy - accuracy;
  }
  if (accuracy < gate.minAccuracy) {
    return { pass: false, reason: `accuracy ${pct(accuracy)} is below the floor ${pct(gate.minAccuracy)}`, numbers };
  }
  if (numbers.accuracyLowerBound !== undefined && numbers.accuracyLowerBound < gate.minAccuracy) {
    return {
      pass: false,
      reason: `accuracy ${pct(accuracy)} on ${testCount} test faces is, at 95 % confidence, only at least ${pct(numbers.accuracyLowerBound)}: below the floor ${pct(gate.minAccuracy)}`,
      numbers,
    };
  }
  // A tiny epsilon so that a drop exactly at the tolerance passes despite float rounding.
  if (numbers.dropVsChampion !== undefined && numbers.dropVsChampion > gate.maxDropVsChampion + 1e-12) {
    return {
      pass: false,
      reason: `accuracy ${pct(accuracy)} is ${pct(numbers.dropVsChampion)} below champion${champion?.version ? ` v${champion.version}` : ''} (${pct(champion!.accuracy)}); tolerance ${pct(gate.maxDropVsChampion)}`,
      numbers,
    };
  }
  return {
    pass: true,
    reason: champion
      ? `accuracy ${pct(accuracy)} >= floor ${pct(gate.minAccuracy)} and within ${pct(gate.maxDropVsChampion)} of champion (${pct(champion.accuracy)})`
      : `accuracy ${pct(accuracy)} >= floor ${pct(gate.minAccuracy)}; no champion yet`,
    numbers,
  };
}
