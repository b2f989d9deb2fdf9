import sharp from 'sharp';
import { LABELS } from '../../lib/labels';

const CELL = 64;
const LEFT = 110;
const TOP = 70;
const BOTTOM = 40;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A labelled confusion heat-map as SVG: rows are true classes, columns predictions; colour is the row-normalised
 * rate (so rare classes are as readable as common ones), text is the raw count and the rate.
 */
export function confusionSvg(confusion: number[][], title: string, labels: readonly string[] = LABELS): string {
  const k = confusion.length;
  if (labels.length !== k || confusion.some((r) => r.length !== k)) throw new Error(`confusionSvg: need a ${labels.length}x${labels.length} matrix`);
  const width = LEFT + k * CELL + 20;
  const height = TOP + k * CELL + BOTTOM;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" font-size="16" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
    `<text x="${LEFT + (k * CELL) / 2}" y="${height - 14}" font-size="13" text-anchor="middle">predicted</text>`,
    `<text x="16" y="${TOP + (k * CELL) / 2}" font-size="13" text-anchor="middle" transform="rotate(-90 16 ${TOP + (k * CELL) / 2})">true</text>`,
  ];
  confusion.forEach((row, r) => {
    const total = row.reduce((a, b) => a + b, 0);
    parts.push(`<text x="${LEFT - 8}" y="${TOP + r * CELL + CELL / 2 + 4}" font-size="12" text-anchor="end">${esc(labels[r])}</text>`);
    row.forEach((n, c) => {
      const rate = total ? n / total : 0;
      // White -> deep blue; text flips to white on dark cells.
      const shade = Math.round(255 - rate * 200);
      const fill = `rgb(${shade},${Math.round(255 - rate * 150)},255)`;
      const ink = rate > 0.5 ? 'white' : 'black';
      const x = LEFT + c * CELL;
      const y = TOP + r * CELL;
      parts.push(
        `<rect x="${x}" y="${y}" width="${CELL}" height="${CELL}" fill="${fill}" stroke="#ccc"/>`,
        `<text x="${x + CELL / 2}" y="${y + CELL / 2 - 2}" font-size="13" text-anchor="middle" fill="${ink}">${n}</text>`,
        `<text x="${x + CELL / 2}" y="${y + CELL / 2 + 14}" font-size="10" text-anchor="middle" fill="${ink}">${(rate * 100).toFixed(0)}%</text>`,
      );
    });
  });
  labels.forEach((l, c) => {
    parts.push(`<text x="${LEFT + c * CELL + CELL / 2}" y="${TOP - 8}" font-size="12" text-anchor="middle">${esc(l)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export async function writeConfusionPng(confusion: number[][], title: string, file: string): Promise<void> {
  await sharp(Buffer.from(confusionSvg(confusion, title))).png().toFile(file);
}
