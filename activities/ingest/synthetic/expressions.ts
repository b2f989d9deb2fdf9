import { Rng } from './prng';

/**
 * Facial action parameters, in face units (face half-width = 1, v grows downwards). Each class moves the
 * same parts a real expression moves (after the Facial Action Coding System's prototypes), so a model has to
 * look at the mouth, brows and eyes, not at any global statistic.
 */
export interface Expression {
  eyeOpen: number; // eye height multiplier (1 = neutral)
  browInnerDy: number; // + lowers the inner brow ends
  browOuterDy: number; // + lowers the outer ends
  browInnerDx: number; // - draws the brows together
  browArch: number; // + arches the middle upwards
  mouthW: number; // half-width of the mouth
  mouthCurve: number; // + corners up (smile), - corners down
  mouthOpenU: number; // upper lip lift where the mouth opens
  mouthOpenL: number; // jaw drop / lower lip
  mouthRound: number; // 0 = slit-shaped opening, 1 = round "O"
  teeth: number; // 0..1 how much of the opening shows teeth
  lipThick: number; // lip line thickness (pressed lips are thick and dark)
  asym: number; // one-sided upper-lip raise (disgust)
  nasolabial: number; // smile folds
  noseWrinkle: number; // disgust wrinkles
  furrow: number; // vertical lines between the brows (anger)
}

export const NEUTRAL: Expression = {
  eyeOpen: 1, browInnerDy: 0, browOuterDy: 0, browInnerDx: 0, browArch: 0.02,
  mouthW: 0.3, mouthCurve: 0, mouthOpenU: 0, mouthOpenL: 0, mouthRound: 0, teeth: 0, lipThick: 0.045,
  asym: 0, nasolabial: 0.1, noseWrinkle: 0, furrow: 0,
};

/** The apex of each class in LABELS order: angry, disgust, fear, happy, sad, surprise, neutral. */
const PROTOTYPES: Partial<Expression>[] = [
  // angry: brows down and together, glaring eyes, pressed narrow lips
  { eyeOpen: 0.78, browInnerDy: 0.15, browOuterDy: -0.04, browInnerDx: -0.06, browArch: -0.02, mouthW: 0.23,
    mouthCurve: -0.05, lipThick: 0.07, furrow: 1 },
  // disgust: narrowed eyes, lowered brows, upper lip raised on one side, wrinkled nose
  { eyeOpen: 0.45, browInnerDy: 0.09, browOuterDy: 0.03, browInnerDx: -0.03, mouthW: 0.27, mouthCurve: -0.07,
    mouthOpenU: 0.03, asym: 0.15, teeth: 0.8, noseWrinkle: 1.2, nasolabial: 0.7 },
  // fear: wide eyes, brows raised and drawn together, lips stretched sideways, slightly open
  { eyeOpen: 1.5, browInnerDy: -0.16, browOuterDy: -0.05, browInnerDx: -0.04, browArch: 0, mouthW: 0.41,
    mouthCurve: -0.06, mouthOpenU: 0.025, mouthOpenL: 0.075, teeth: 0.7, lipThick: 0.04 },
  // happy: upturned wide mouth, often open with teeth, squinting eyes, smile folds
  { eyeOpen: 0.72, browInnerDy: -0.02, mouthW: 0.42, mouthCurve: 0.17, mouthOpenU: 0.02, mouthOpenL: 0.09,
    teeth: 1, nasolabial: 1 },
  // sad: downturned corners, inner brow ends raised, slightly lowered lids
  { eyeOpen: 0.8, browInnerDy: -0.11, browOuterDy: 0.07, browArch: -0.01, mouthW: 0.29, mouthCurve: -0.14,
    lipThick: 0.05 },
  // surprise: raised arched brows, wide eyes, dropped jaw with a round open mouth
  { eyeOpen: 1.6, browInnerDy: -0.17, browOuterDy: -0.14, browArch: 0.06, mouthW: 0.17, mouthOpenU: 0.09,
    mouthOpenL: 0.2, mouthRound: 1, teeth: 0.15 },
  // neutral
  {},
];

const JITTER: Expression = {
  eyeOpen: 0.12, browInnerDy: 0.025, browOuterDy: 0.025, browInnerDx: 0.015, browArch: 0.015,
  mouthW: 0.035, mouthCurve: 0.025, mouthOpenU: 0.01, mouthOpenL: 0.02, mouthRound: 0.1, teeth: 0.15,
  lipThick: 0.008, asym: 0.015, nasolabial: 0.15, noseWrinkle: 0.15, furrow: 0.15,
};

/**
 * A random instance of class `label`: the prototype at a random intensity (weaker with more difficulty, so
 * mild expressions sit close to neutral) plus per-part jitter.
 */
export function sampleExpression(label: number, difficulty: number, rng: Rng): Expression {
  const proto = { ...NEUTRAL, ...PROTOTYPES[label] };
  const lo = 0.85 - 0.45 * difficulty;
  const intensity = rng.uniform(lo, 1.15);
  const spread = 0.5 + difficulty;
  const out = { ...NEUTRAL };
  for (const k of Object.keys(NEUTRAL) as (keyof Expression)[]) {
    out[k] = NEUTRAL[k] + intensity * (proto[k] - NEUTRAL[k]) + JITTER[k] * spread * rng.normal();
  }
  // Happy and fear faces are not always open-mouthed: half the smiles are closed.
  if (label === 3 && rng.chance(0.4)) {
    out.mouthOpenL *= 0.1;
    out.mouthOpenU = 0;
  }
  if (label === 0 && rng.chance(0.25)) {
    // a bared-teeth snarl instead of pressed lips
    out.mouthOpenU = 0.03;
    out.mouthOpenL = 0.05;
    out.teeth = 0.9;
    out.lipThick = 0.05;
  }
  out.eyeOpen = Math.max(0.2, out.eyeOpen);
  out.mouthW = Math.max(0.12, out.mouthW);
  out.mouthOpenU = Math.max(0, out.mouthOpenU);
  out.mouthOpenL = Math.max(0, out.mouthOpenL);
  out.lipThick = Math.max(0.025, out.lipThick);
  out.asym = Math.max(0, out.asym);
  for (const k of ['mouthRound', 'teeth', 'nasolabial', 'noseWrinkle', 'furrow'] as const) {
    out[k] = Math.min(1.2, Math.max(0, out[k]));
  }
  return out;
}
