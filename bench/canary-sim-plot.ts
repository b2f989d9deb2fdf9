/**
 * The canary simulator's plot: wrong-decision rate and median time to decision per scenario at each traffic rate,
 * before and after #21, as an SVG rasterised to PNG by sharp.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import sharp from 'sharp';
import type { Cell } from './canary-sim';

const BAR = 9;
const ROW = 2 * BAR + 8;
const LABEL_W = 350;
const PANEL_W = 300;
const COLOURS = { before: '#b0b0b0', after: '#1f6fb2' };

/** Two panels (wrong decisions in %, median seconds to decision), one row per scenario and rate. */
export function plotSvg(before: Cell[], after: Cell[]): string {
  const maxSeconds = Math.max(...before.map((c) => c.medianSeconds), ...after.map((c) => c.medianSeconds), 1);
  const top = 50;
  const height = top + before.length * ROW + 20;
  const width = LABEL_W + 2 * PANEL_W + 60;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LABEL_W}" y="16" font-weight="bold">wrong decisions (%)</text>`,
    `<text x="${LABEL_W + PANEL_W + 30}" y="16" font-weight="bold">median time to decision (s)</text>`,
    legend(LABEL_W, 34, 'before #21', COLOURS.before),
    legend(LABEL_W + 110, 34, 'after (sequential tests)', COLOURS.after),
  ];
  before.forEach((b, i) => {
    const a = after[i];
    const y = top + i * ROW;
    parts.push(`<text x="${LABEL_W - 6}" y="${y + BAR + 4}" text-anchor="end">${escape(`${b.scenario}, ${b.rate} req/s`)}</text>`);
    bars(parts, LABEL_W, y, [b.wrong, a.wrong], 1, (v) => `${(v * 100).toFixed(1)}`);
    bars(parts, LABEL_W + PANEL_W + 30, y, [b.medianSeconds, a.medianSeconds], maxSeconds, (v) => `${v}`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function bars(parts: string[], x: number, y: number, values: number[], max: number, label: (v: number) => string): void {
  values.forEach((v, k) => {
    const w = Math.max(1, (v / max) * (PANEL_W - 50));
    const colour = k === 0 ? COLOURS.before : COLOURS.after;
    parts.push(`<rect x="${x}" y="${y + k * BAR}" width="${w.toFixed(1)}" height="${BAR - 1}" fill="${colour}"/>`);
    parts.push(`<text x="${x + w + 3}" y="${y + k * BAR + BAR - 1}" font-size="9">${label(v)}</text>`);
  });
}

const legend = (x: number, y: number, text: string, colour: string) =>
  `<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${colour}"/><text x="${x + 14}" y="${y}">${text}</text>`;

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export async function writePlot(before: Cell[], after: Cell[], path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await sharp(Buffer.from(plotSvg(before, after))).png().toFile(path);
}
