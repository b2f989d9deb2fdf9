import { Rng } from './prng';

/**
 * Everything about a picture that is not the expression: who (skin, hair), where (pose, scale, position)
 * and how it was shot (light, blur, noise, occluders). All of it is drawn independently of the class, so
 * none of it can give the class away.
 */
export interface Appearance {
  skin: number; // base skin tone, 0..1
  background: number;
  bgGradX: number;
  bgGradY: number;
  cloth: number;
  hair: number;
  hairStyle: 'bald' | 'short' | 'long';
  hairline: number; // v of the hairline at the centre
  radius: number; // face half-width in pixels
  cx: number;
  cy: number;
  rotation: number; // radians
  yaw: number; // -1..1, shifts features sideways and narrows the far eye
  gaze: number;
  lightAngle: number;
  lightStrength: number;
  gamma: number;
  glasses: boolean;
  occluders: Occluder[];
  blur: number; // 3-tap kernel side weight, 0 = sharp
  blurPasses: number;
  noise: number; // gaussian sigma in 0..1 units
}

export type Occluder =
  | { kind: 'bar'; ax: number; ay: number; bx: number; by: number; r: number; tone: number }
  | { kind: 'blob'; x: number; y: number; rx: number; ry: number; tone: number };

export function sampleAppearance(difficulty: number, rng: Rng, size: number): Appearance {
  const d = difficulty;
  const spread = 0.5 + d;
  const half = size / 2;
  const occluders: Occluder[] = [];
  const occluderCount = rng.chance(0.05 + 0.3 * d) ? 1 + (rng.chance(0.3) ? 1 : 0) : 0;
  for (let i = 0; i < occluderCount; i++) {
    if (rng.chance(0.5)) {
      const a = rng.uniform(0, Math.PI);
      const x = rng.uniform(4, size - 4);
      const y = rng.uniform(4, size - 4);
      const len = rng.uniform(10, 40);
      occluders.push({ kind: 'bar', ax: x - Math.cos(a) * len / 2, ay: y - Math.sin(a) * len / 2,
        bx: x + Math.cos(a) * len / 2, by: y + Math.sin(a) * len / 2, r: rng.uniform(1.2, 3.5), tone: rng.next() });
    } else {
      occluders.push({ kind: 'blob', x: rng.uniform(0, size), y: rng.uniform(half * 0.6, size),
        rx: rng.uniform(3, 9), ry: rng.uniform(3, 9), tone: rng.next() });
    }
  }
  const styleRoll = rng.next();
  return {
    skin: rng.uniform(0.3, 0.85),
    background: rng.uniform(0.05, 0.95),
    bgGradX: rng.uniform(-0.2, 0.2),
    bgGradY: rng.uniform(-0.2, 0.2),
    cloth: rng.uniform(0.05, 0.9),
    hair: rng.chance(0.75) ? rng.uniform(0.03, 0.3) : rng.uniform(0.3, 0.85),
    hairStyle: styleRoll < 0.08 ? 'bald' : styleRoll < 0.55 ? 'short' : 'long',
    hairline: rng.uniform(-0.88, -0.6),
    radius: size * rng.uniform(0.37, 0.46) * (1 + 0.06 * d * rng.normal()),
    cx: half + 1.2 * spread * rng.normal(),
    cy: half + 1.5 + 1.2 * spread * rng.normal(),
    rotation: Math.max(-0.45, Math.min(0.45, rng.normal() * (0.06 + 0.14 * d))),
    yaw: Math.max(-0.7, Math.min(0.7, rng.normal() * 0.3 * spread)),
    gaze: 0.02 * rng.normal(),
    lightAngle: rng.uniform(0, 2 * Math.PI),
    lightStrength: rng.uniform(0, 0.2 + 0.3 * d),
    gamma: Math.exp(0.15 * rng.normal()),
    glasses: rng.chance(0.1),
    occluders,
    blur: rng.chance(0.5) ? rng.uniform(0, 0.15 + 0.15 * d) : 0,
    blurPasses: 1 + rng.int(2),
    noise: rng.uniform(0.004, 0.015 + 0.045 * d),
  };
}
