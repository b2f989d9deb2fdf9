import { Appearance } from './appearance';
import { Expression } from './expressions';
import { Rng } from './prng';
import * as sdf from './sdf';

// Bound once: tsx/esbuild compile named imports to getter calls, which cost more than the maths in this
// per-pixel code (measured: over a third of the render time).
const { capsuleSd, clamp01, coverage, ellipseSd, mix, softCoverage } = sdf;

/**
 * Draws one face into `out` (size*size uint8). The face lives in its own frame: origin at the face centre,
 * unit = face half-width, v downwards. Each pixel centre is mapped into that frame through the pose, the
 * layers are painted back to front with anti-aliased coverage in float, and only the finished picture (after
 * light, occluders, blur and noise) is quantised.
 */
export function renderFace(expr: Expression, look: Appearance, rng: Rng, size: number, out: Uint8Array, scratch: Float32Array): void {
  const px = 1 / look.radius; // one pixel in face units
  const cos = Math.cos(look.rotation);
  const sin = Math.sin(look.rotation);
  const fx = 0.2 * look.yaw; // features shift towards the side the head turns to
  const lightU = Math.cos(look.lightAngle);
  const lightV = Math.sin(look.lightAngle);
  const shadowSide = lightU > 0 ? -1 : 1;

  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x + 0.5 - look.cx;
      const dy = y + 0.5 - look.cy;
      const u = (cos * dx + sin * dy) * px;
      const v = (-sin * dx + cos * dy) * px;

      let I = look.background + look.bgGradX * (x / size - 0.5) + look.bgGradY * (y / size - 0.5);
      I = mix(I, look.cloth, coverage(ellipseSd(u, v, 0, 2.05, 2.0, 0.75), px));
      if (look.hairStyle === 'long') {
        I = mix(I, look.hair, coverage(Math.max(ellipseSd(u, v, fx * 0.3, 0.1, 1.27, 1.5), v - 1.3), px));
      }
      I = mix(I, look.skin * 0.78, coverage(Math.max(Math.abs(u - fx * 0.2) - 0.48, 0.7 - v), px)); // neck
      for (let s = -1; s <= 1; s += 2) {
        I = mix(I, look.skin * 0.85, coverage(ellipseSd(u, v, s * (0.97 - 0.1 * look.yaw * s), 0.0, 0.13, 0.24), px));
      }

      // Face: an egg (narrower at the jaw), shaded darker towards its rim and lit from one side.
      const taper = 1 - 0.14 * Math.max(0, v - 0.1);
      const faceSd = ellipseSd(u, v, -0.04 * look.yaw, 0.05, taper, 1.3);
      const fa = coverage(faceSd, px);
      if (fa <= 0) {
        scratch[y * size + x] = I;
        continue;
      }
      const ku = (u + 0.04 * look.yaw) / taper;
      const kv = (v - 0.05) / 1.3;
      const rim = ku * ku + kv * kv;
      let F = look.skin * (1 - 0.3 * rim * rim) * (1 + 0.12 * (lightU * u + lightV * v));

      F = drawEyes(F, u, v, fx, look, expr, px);
      F = drawBrows(F, u, v, fx, look, expr, px);
      F = drawNose(F, u, v, fx, expr, px, shadowSide);
      F = drawMouth(F, u, v, fx, look, expr, px);
      if (look.glasses) F = drawGlasses(F, u, v, fx, px);

      I = mix(I, F, fa);
      if (look.hairStyle !== 'bald') {
        const hairline = look.hairline + 0.2 * u * u;
        const capSd = Math.max(ellipseSd(u, v, fx * 0.3, -0.17, 1.1, 1.22), v - hairline);
        I = mix(I, look.hair, coverage(capSd, px));
      }
      scratch[y * size + x] = I;
    }
  }
  finish(look, rng, size, out, scratch);
}

function drawEyes(F: number, u: number, v: number, fx: number, look: Appearance, e: Expression, px: number): number {
  const ey = -0.1;
  if (v < ey - 0.35 || v > ey + 0.3) return F;
  const ry = Math.min(0.13, 0.068 * e.eyeOpen);
  for (let s = -1; s <= 1; s += 2) {
    const ex = s * 0.37 + fx;
    const rx = 0.15 * (1 - 0.3 * look.yaw * s);
    if (Math.abs(u - ex) > 0.35) continue;
    // socket shadow, stronger for deep-set eyes under lowered brows
    F *= 1 - 0.2 * softCoverage(ellipseSd(u, v, ex, ey - 0.03, rx + 0.1, 0.13), 0.1);
    const eyeSd = ellipseSd(u, v, ex, ey, rx, ry);
    const sclera = Math.min(0.95, F * 0.5 + 0.42);
    F = mix(F, sclera, coverage(eyeSd, px));
    const irisSd = Math.max(eyeSd, ellipseSd(u, v, ex + look.gaze + 0.03 * look.yaw, ey + 0.004, 0.065, 0.065));
    F = mix(F, 0.08, coverage(irisSd, px));
    // lash line on the upper lid, a fainter one below
    const lid = Math.abs(eyeSd) - (v < ey ? 0.022 : 0.01);
    F = mix(F, F * (v < ey ? 0.25 : 0.6), coverage(lid, px) * (Math.abs(u - ex) < rx * 1.05 ? 1 : 0.5));
  }
  return F;
}

function drawBrows(F: number, u: number, v: number, fx: number, look: Appearance, e: Expression, px: number): number {
  if (v < -0.75 || v > -0.1) return F;
  const tone = Math.min(look.hair, F * 0.35);
  for (let s = -1; s <= 1; s += 2) {
    const ix = s * (0.13 + e.browInnerDx) + fx;
    const iy = -0.33 + e.browInnerDy;
    const ox = s * 0.6 + fx;
    const oy = -0.3 + e.browOuterDy;
    const mx = (ix + ox) / 2;
    const my = (iy + oy) / 2 - 0.04 - e.browArch;
    const sd = Math.min(capsuleSd(u, v, ix, iy, mx, my, 0.05), capsuleSd(u, v, mx, my, ox, oy, 0.036));
    F = mix(F, tone, 0.85 * coverage(sd, px));
    if (e.furrow > 0) {
      F = mix(F, F * 0.55, 0.5 * e.furrow * coverage(capsuleSd(u, v, fx + s * 0.035, -0.31, fx + s * 0.045, -0.17, 0.012), px));
    }
  }
  return F;
}

function drawNose(F: number, u: number, v: number, fx: number, e: Expression, px: number, shadowSide: number): number {
  if (v < -0.2 || v > 0.62) return F;
  const nx = fx * 1.4;
  F *= 1 - 0.16 * softCoverage(capsuleSd(u, v, nx + shadowSide * 0.09, -0.05, nx + shadowSide * 0.11, 0.28, 0.02), 0.06);
  F *= 1 - 0.22 * softCoverage(ellipseSd(u, v, nx, 0.37, 0.15, 0.045), 0.05);
  for (let s = -1; s <= 1; s += 2) {
    F = mix(F, F * 0.35, 0.8 * coverage(ellipseSd(u, v, nx + s * 0.085, 0.33, 0.045, 0.026), px));
    if (e.nasolabial > 0) {
      // smile folds run from beside the nose towards the mouth corners
      const c = e.nasolabial * 0.4;
      const sd = Math.min(
        capsuleSd(u, v, nx + s * 0.17, 0.3, fx + s * (e.mouthW * 0.6 + 0.2), 0.48, 0.012),
        capsuleSd(u, v, fx + s * (e.mouthW * 0.6 + 0.2), 0.48, fx + s * (e.mouthW + 0.07), 0.68, 0.012),
      );
      F = mix(F, F * 0.55, c * coverage(sd, px));
    }
    if (e.noseWrinkle > 0) {
      const sd = Math.min(
        capsuleSd(u, v, nx + s * 0.05, -0.05, nx + s * 0.1, 0.08, 0.012),
        capsuleSd(u, v, nx + s * 0.03, 0.02, nx + s * 0.11, -0.01, 0.01),
      );
      F = mix(F, F * 0.5, 0.5 * e.noseWrinkle * coverage(sd, px));
    }
  }
  return F;
}

function drawMouth(F: number, u: number, v: number, fx: number, look: Appearance, e: Expression, px: number): number {
  const mx = fx * 1.1;
  const my = 0.62 + e.mouthOpenL * 0.3;
  const w = e.mouthW * (1 - 0.1 * Math.abs(look.yaw));
  const t = (u - mx) / w;
  if (Math.abs(t) > 1.2 || v < my - 0.45 || v > my + 0.5) return F;
  const tt = Math.min(1, Math.abs(t));
  const env = mix(1 - tt * tt, Math.sqrt(1 - tt * tt), e.mouthRound);
  const line = my - e.mouthCurve * (tt * tt - 0.35);
  const side = look.yaw >= 0 ? 1 : -1; // which side the lip lifts: any side, decided by pose not class
  const lift = e.asym * clamp01(side * t * 0.8 + 0.4) * Math.sqrt(1 - tt * tt);
  const upper = line - e.mouthOpenU * env - lift;
  const lower = line + e.mouthOpenL * env;
  const sdH = (Math.abs(t) - 1) * w;

  // shadow under the lower lip
  F *= 1 - 0.18 * softCoverage(ellipseSd(u, v, mx, lower + 0.13, w * 0.55, 0.035), 0.05);
  // the opening: teeth in its upper part, dark cavity below
  const gap = lower - upper;
  const inner = coverage(Math.max(upper - v, v - lower, sdH), px) * clamp01(gap / px);
  if (inner > 0) {
    const teethEdge = upper + gap * 0.55 * e.teeth;
    const cavity = 0.06 + 0.05 * look.skin;
    const tone = mix(cavity, Math.min(0.95, F * 0.6 + 0.4), clamp01((teethEdge - v) / px + 0.5));
    F = mix(F, tone, inner);
  }
  const thick = e.lipThick * (0.4 + 0.6 * Math.pow(1 - tt * tt, 0.3));
  F = mix(F, F * 0.45, coverage(Math.max(Math.abs(v - upper) - thick * 0.5, sdH), px));
  F = mix(F, F * 0.68, coverage(Math.max(Math.abs(v - lower - thick * 0.4) - thick * 0.6, sdH), px));
  return F;
}

function drawGlasses(F: number, u: number, v: number, fx: number, px: number): number {
  let sd = capsuleSd(u, v, fx - 0.16, -0.13, fx + 0.16, -0.13, 0.012);
  for (let s = -1; s <= 1; s += 2) sd = Math.min(sd, Math.abs(ellipseSd(u, v, s * 0.38 + fx, -0.09, 0.23, 0.16)) - 0.015);
  return mix(F, 0.1, coverage(sd, px));
}

/** Light falloff, contrast curve, occluders, blur and sensor noise, then quantisation. */
function finish(look: Appearance, rng: Rng, size: number, out: Uint8Array, buf: Float32Array): void {
  const lc = Math.cos(look.lightAngle);
  const ls = Math.sin(look.lightAngle);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      let I = buf[i] * (1 + look.lightStrength * ((x / size - 0.5) * lc + (y / size - 0.5) * ls) * 2);
      I = look.gamma === 1 ? clamp01(I) : Math.pow(clamp01(I), look.gamma);
      for (let k = 0; k < look.occluders.length; k++) {
        const o = look.occluders[k];
        const sd = o.kind === 'bar'
          ? capsuleSd(x + 0.5, y + 0.5, o.ax, o.ay, o.bx, o.by, o.r)
          : ellipseSd(x + 0.5, y + 0.5, o.x, o.y, o.rx, o.ry);
        I = mix(I, o.tone, coverage(sd, 1));
      }
      buf[i] = I;
    }
  }
  if (look.blur > 0) {
    for (let p = 0; p < look.blurPasses; p++) blur3(buf, size, look.blur);
  }
  for (let i = 0; i < size * size; i++) {
    const I = buf[i] + look.noise * rng.normal();
    out[i] = Math.round(clamp01(I) * 255);
  }
}

/** Separable 3-tap blur [a, 1-2a, a] with clamped edges, in place. */
function blur3(buf: Float32Array, size: number, a: number): void {
  const row = new Float32Array(size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) row[x] = buf[y * size + x];
    for (let x = 0; x < size; x++) {
      buf[y * size + x] = a * row[Math.max(0, x - 1)] + (1 - 2 * a) * row[x] + a * row[Math.min(size - 1, x + 1)];
    }
  }
  for (let x = 0; x < size; x++) {
    for (let y = 0; y < size; y++) row[y] = buf[y * size + x];
    for (let y = 0; y < size; y++) {
      buf[y * size + x] = a * row[Math.max(0, y - 1)] + (1 - 2 * a) * row[y] + a * row[Math.min(size - 1, y + 1)];
    }
  }
}
