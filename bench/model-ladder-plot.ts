/**
 * The model ladder's plot: crop throughput and latency of the service per model and variant at concurrency 1 and 8,
 * medians of the rounds with their range, on log axes (the models are orders of magnitude apart), as an SVG
 * rasterised to PNG by sharp (as bench/canary-sim-plot.ts does).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import sharp from 'sharp';
import type { Spread } from './rounds';

export interface LadderRow {
  model: string;
  variant: 'fp32' | 'int8';
  fileMb: number;
  concurrency: number;
  rps: Spread;
  p50: Spread;
  p99: Spread;
}

const PLOTTED = [1, 8];
const VARIANTS = ['fp32', 'int8'] as const;
// Colour tells the variant, lightness the concurrency: the pairs to compare stand side by side.
const COLOURS: Record<string, string> = { 'fp32 1': '#9cc3e6', 'int8 1': '#f5c08a', 'fp32 8': '#1f6fb2', 'int8 8': '#d9700f' };
const BAR = 26;
const GROUP_GAP = 34;
const PANEL_H = 300;
const TOP = 78;
const LEFT = 60;

/** Two panels (req/s; p50 ms with p99 dots), one group of bars per model. */
export function ladderSvg(rows: LadderRow[], title: string, subtitle: string): string {
  const models = [...new Set(rows.map((r) => r.model))];
  const groupW = PLOTTED.length * VARIANTS.length * BAR + GROUP_GAP;
  const panelW = models.length * groupW + 20;
  const width = Math.max(LEFT + 2 * panelW + LEFT + 20, 820); // the legend and subtitle need the room with few models
  const height = TOP + PANEL_H + 80;
  const plotted = rows.filter((r) => PLOTTED.includes(r.concurrency));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="18" font-size="14" font-weight="bold">${escape(title)}</text>`,
    `<text x="${LEFT}" y="34" fill="#444">${escape(subtitle)}</text>`,
  ];
  let lx = LEFT;
  for (const c of PLOTTED) {
    for (const v of VARIANTS) {
      parts.push(legend(lx, 54, `${v}, concurrency ${c}`, COLOURS[`${v} ${c}`]));
      lx += 150;
    }
  }
  parts.push(`<circle cx="${lx + 5}" cy="50" r="3.5" fill="black"/><text x="${lx + 14}" y="54">p99</text>`);
  panel(parts, LEFT, 'throughput (req/s, log scale)', plotted, models, (r) => r.rps, groupW, panelW);
  panel(parts, 2 * LEFT + panelW, 'latency p50, dots p99 (ms, log scale)', plotted, models, (r) => r.p50, groupW, panelW, (r) => r.p99.median);
  parts.push('</svg>');
  return parts.join('\n');
}

function panel(
  parts: string[],
  x0: number,
  label: string,
  rows: LadderRow[],
  models: string[],
  value: (r: LadderRow) => Spread,
  groupW: number,
  panelW: number,
  dot?: (r: LadderRow) => number,
): void {
  const all = rows.flatMap((r) => [value(r).min, value(r).max, ...(dot ? [dot(r)] : [])]).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.min(...all)));
  const hi = Math.ceil(Math.log10(Math.max(...all)) + 0.15); // room above the tallest bar for its label
  const base = TOP + PANEL_H;
  const y = (v: number) => base - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * PANEL_H;
  parts.push(`<text x="${x0}" y="${TOP - 8}" font-weight="bold">${escape(label)}</text>`);
  for (let d = lo; d <= hi; d++) {
    parts.push(`<line x1="${x0}" x2="${x0 + panelW}" y1="${y(10 ** d)}" y2="${y(10 ** d)}" stroke="#ddd"/>`);
    parts.push(`<text x="${x0 - 4}" y="${y(10 ** d) + 4}" text-anchor="end">${fmtTick(10 ** d)}</text>`);
  }
  parts.push(`<line x1="${x0}" x2="${x0}" y1="${TOP}" y2="${base}" stroke="#888"/>`);
  models.forEach((m, g) => {
    const gx = x0 + 10 + g * groupW;
    let k = 0;
    for (const c of PLOTTED) {
      for (const v of VARIANTS) {
        const r = rows.find((row) => row.model === m && row.variant === v && row.concurrency === c);
        const bx = gx + k++ * BAR;
        if (!r) continue;
        const s = value(r);
        const top = y(s.median);
        parts.push(`<rect x="${bx}" y="${top.toFixed(1)}" width="${BAR - 3}" height="${(base - top).toFixed(1)}" fill="${COLOURS[`${v} ${c}`]}"/>`);
        // The whisker: the range of the rounds.
        const cx = bx + (BAR - 3) / 2;
        parts.push(`<line x1="${cx}" x2="${cx}" y1="${y(s.max).toFixed(1)}" y2="${y(s.min).toFixed(1)}" stroke="#222"/>`);
        const d = dot?.(r);
        if (d !== undefined) parts.push(`<circle cx="${cx}" cy="${y(d).toFixed(1)}" r="3.5" fill="black"/>`);
        // The median's label sits on the whisker, below the p99 dot unless the dot is too close to leave room.
        let labelY = y(s.max) - 4;
        if (d !== undefined && y(d) > labelY - 14) labelY = y(d) - 6;
        parts.push(`<text x="${cx}" y="${labelY.toFixed(1)}" font-size="9" text-anchor="middle">${fmtValue(s.median)}</text>`);
      }
    }
    const fp32 = rows.find((r) => r.model === m && r.variant === 'fp32');
    const int8 = rows.find((r) => r.model === m && r.variant === 'int8');
    const mid = gx + (PLOTTED.length * VARIANTS.length * BAR) / 2;
    parts.push(`<text x="${mid}" y="${base + 16}" text-anchor="middle" font-weight="bold">${escape(m)}</text>`);
    parts.push(`<text x="${mid}" y="${base + 30}" text-anchor="middle" font-size="9" fill="#444">fp32 ${fp32?.fileMb.toFixed(1) ?? '-'} MB</text>`);
    parts.push(`<text x="${mid}" y="${base + 42}" text-anchor="middle" font-size="9" fill="#444">int8 ${int8?.fileMb.toFixed(1) ?? '-'} MB</text>`);
  });
}

const fmtTick = (v: number) => (v >= 1 ? String(v) : v.toPrecision(1));
const fmtValue = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

const legend = (x: number, y: number, text: string, colour: string) =>
  `<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${colour}"/><text x="${x + 14}" y="${y}">${escape(text)}</text>`;

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export async function writeLadderPlot(rows: LadderRow[], title: string, subtitle: string, path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await sharp(Buffer.from(ladderSvg(rows, title, subtitle))).png().toFile(path);
}
