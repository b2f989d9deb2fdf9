import sharp from 'sharp';

export interface EpochPoint { epoch: number; train_loss: number; val_loss: number; val_accuracy: number }

const W = 720;
const H = 360;
const PAD = { left: 60, right: 60, top: 40, bottom: 44 };
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/**
 * Training curves as SVG: train and validation loss on the left axis, validation accuracy (0..1) on the right,
 * one point per epoch. Drawn by hand so the artifact needs no plotting library.
 */
export function curvesSvg(history: readonly EpochPoint[], title: string): string {
  if (history.length === 0) throw new Error('curvesSvg: no epochs to draw');
  const epochs = history.map((h) => h.epoch);
  const [e0, e1] = [Math.min(...epochs), Math.max(...epochs)];
  const maxLoss = Math.max(...history.flatMap((h) => [h.train_loss, h.val_loss]).filter(Number.isFinite), 1e-9);
  const x = (e: number) => PAD.left + ((e - e0) / Math.max(1, e1 - e0)) * (W - PAD.left - PAD.right);
  const yLoss = (v: number) => H - PAD.bottom - (v / maxLoss) * (H - PAD.top - PAD.bottom);
  const yAcc = (v: number) => H - PAD.bottom - v * (H - PAD.top - PAD.bottom);
  const line = (pts: [number, number][], colour: string, dash = '') =>
    `<polyline fill="none" stroke="${colour}" stroke-width="2" ${dash ? `stroke-dasharray="${dash}"` : ''} points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>`;
  const legend = [['train loss', '#d62728'], ['val loss', '#ff7f0e'], ['val accuracy (right axis)', '#1f77b4']]
    .map(([name, colour], i) => `<text x="${PAD.left + 10 + i * 200}" y="${PAD.top - 10}" font-size="12" fill="${colour}">${name}</text>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="18" font-size="14" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
    `<rect x="${PAD.left}" y="${PAD.top}" width="${W - PAD.left - PAD.right}" height="${H - PAD.top - PAD.bottom}" fill="none" stroke="#999"/>`,
    `<text x="${PAD.left - 6}" y="${PAD.top + 4}" font-size="11" text-anchor="end">${maxLoss.toFixed(2)}</text>`,
    `<text x="${PAD.left - 6}" y="${H - PAD.bottom}" font-size="11" text-anchor="end">0</text>`,
    `<text x="${W - PAD.right + 6}" y="${PAD.top + 4}" font-size="11">1.0</text>`,
    `<text x="${W - PAD.right + 6}" y="${H - PAD.bottom}" font-size="11">0</text>`,
    `<text x="${PAD.left}" y="${H - 20}" font-size="11">epoch ${e0}</text>`,
    `<text x="${W - PAD.right}" y="${H - 20}" font-size="11" text-anchor="end">epoch ${e1}</text>`,
    line(history.map((h) => [x(h.epoch), yLoss(h.train_loss)]), '#d62728'),
    line(history.map((h) => [x(h.epoch), yLoss(h.val_loss)]), '#ff7f0e', '6 3'),
    line(history.map((h) => [x(h.epoch), yAcc(h.val_accuracy)]), '#1f77b4'),
    ...legend,
    '</svg>',
  ].join('');
}

export async function writeCurvesPng(history: readonly EpochPoint[], title: string, file: string): Promise<void> {
  await sharp(Buffer.from(curvesSvg(history, title))).png().toFile(file);
}
