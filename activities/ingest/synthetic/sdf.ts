/**
 * Signed distances (negative inside) and anti-aliasing helpers for drawing in float. A shape covers a pixel
 * by the fraction its edge crosses it: coverage = clamp(0.5 - sd / pixelSize), a box-filter approximation.
 */
export function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/** Approximate distance to an axis-aligned ellipse (exact on the axes, good enough for 1-pixel edges). */
export function ellipseSd(u: number, v: number, cx: number, cy: number, rx: number, ry: number): number {
  const a = (u - cx) / rx;
  const b = (v - cy) / ry;
  return (Math.sqrt(a * a + b * b) - 1) * Math.min(rx, ry);
}

/** Distance to the segment a-b, minus radius r (a stroke with round caps). */
export function capsuleSd(u: number, v: number, ax: number, ay: number, bx: number, by: number, r: number): number {
  const pax = u - ax;
  const pay = v - ay;
  const bax = bx - ax;
  const bay = by - ay;
  const h = clamp01((pax * bax + pay * bay) / (bax * bax + bay * bay || 1));
  const dx = pax - bax * h;
  const dy = pay - bay * h;
  return Math.sqrt(dx * dx + dy * dy) - r;
}

export function coverage(sd: number, px: number): number {
  return clamp01(0.5 - sd / px);
}

/** A soft-edged shape: full inside, fading to nothing over `soft` outside the edge. */
export function softCoverage(sd: number, soft: number): number {
  return clamp01(1 - sd / soft);
}

export function mix(a: number, b: number, t: number): number {
  return a + (b - a) * t;
}
