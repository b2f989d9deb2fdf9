/**
 * Rounds for every bench headline: variants interleaved (A B, then B A, ...) so that a host getting slower or
 * faster during the run does not favour whichever variant runs first, and results reported as the median of the
 * rounds with their range, never the best run.
 */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(xs: readonly number[]): Spread {
  if (xs.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s[s.length - 1] };
}

/** "median (min-max)", with `digits` decimals (whole numbers at and above 100 unless digits is given). */
export function fmtSpread(s: Spread, digits?: number): string {
  const f = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(digits ?? (Math.abs(s.median) >= 100 ? 0 : Math.abs(s.median) >= 10 ? 1 : 2)));
  return `${f(s.median)} (${f(s.min)}-${f(s.max)})`;
}

/** Median and range of the per-round ratio a[i] / b[i] (a ratio of medians would hide how the rounds agree). */
export const ratioSpread = (a: readonly number[], b: readonly number[]): Spread => spread(a.map((x, i) => x / b[i]));

/**
 * Runs every variant once per round, the order reversed on every other round, and returns each variant's results
 * in round order.
 */
export async function interleaved<T>(rounds: number, variants: Record<string, () => Promise<T>>): Promise<Record<string, T[]>> {
  const names = Object.keys(variants);
  const out: Record<string, T[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const n of r % 2 ? [...names].reverse() : names) out[n].push(await variants[n]());
  }
  return out;
}
