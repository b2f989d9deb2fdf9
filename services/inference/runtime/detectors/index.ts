import { faceNetFile } from '../../../../lib/paths';
import type { Cascades } from '../cv';
import { blazeFaceDetector } from './blazeface';
import { cnnDetector } from './cnn';
import type { DetectConfig, DetectorKind, FaceDetector } from './detector';
import { haarDetector } from './haar';

/** Every detector FEROPS_FACE_DETECTOR can name. */
const DETECTORS = {
  blazeface: blazeFaceDetector,
  cnn: cnnDetector,
  haar: haarDetector,
} satisfies Record<string, DetectorKind<unknown>>;

export type DetectorName = keyof typeof DETECTORS;
type OptionsOf<N extends DetectorName> = (typeof DETECTORS)[N] extends DetectorKind<infer O> ? O : never;
/** A detector's name with its options: plain data, so a worker thread can load the same detector. */
export type DetectorSettings = { [N in DetectorName]: { name: N; options: OptionsOf<N> } }[DetectorName];

/** FEROPS_FACE_DETECTOR_MODEL's default: the named detector's net where bootstrap converts it (Haar has none: the default's). */
export function defaultDetectorModel(name: DetectorName): string {
  const kind: DetectorKind<unknown> = DETECTORS[name];
  return faceNetFile(kind.modelFile ?? blazeFaceDetector.modelFile!);
}

/** FEROPS_MIN_FACE_SCORE's default: the verifier score the named detector's boxes need (see DetectorKind). */
export function defaultMinFaceScore(name: DetectorName): number {
  const kind: DetectorKind<unknown> = DETECTORS[name];
  return kind.minFaceScore ?? 0;
}

export const DETECTOR_NAMES = Object.keys(DETECTORS) as [DetectorName, ...DetectorName[]];

/** The detectors with a small-face search (see DetectorKind). */
export const SMALL_FACE_DETECTORS: readonly DetectorName[] = DETECTOR_NAMES.filter((name) => (DETECTORS[name] as DetectorKind<unknown>).searchesSmallFaces);

/** The options the config gives detector `name`. */
export function detectorSettings(name: DetectorName, config: DetectConfig): DetectorSettings {
  const kind: DetectorKind<unknown> = DETECTORS[name];
  return { name, options: kind.options(config) } as DetectorSettings;
}

export function loadDetector({ name, options }: DetectorSettings, cascades: () => Cascades): Promise<FaceDetector> {
  const kind: DetectorKind<unknown> | undefined = DETECTORS[name];
  if (!kind) throw new Error(`unknown face detector "${name}": one of ${DETECTOR_NAMES.join(', ')}`);
  return kind.load(options, cascades);
}
