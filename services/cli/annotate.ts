import sharp from 'sharp';
import type { PredictAnswer } from './commands/predict';

/** Box colour of `ferops predict --out`, the same yellow as the try-it page. */
export const BOX_RGB = [255, 212, 0] as const;

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The image with every face's box and label drawn on it, as PNG: the try-it page's drawing from the command line.
 * The image is turned upright by its EXIF orientation first, as the service does before it measures the boxes.
 */
export async function annotate(image: Buffer, answer: PredictAnswer): Promise<Buffer> {
  const { data, info } = await sharp(image).rotate().toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 200));
  const fontSize = Math.max(12, Math.round(Math.min(width, height) / 30));
  const colour = `rgb(${BOX_RGB.join(',')})`;
  const faces = answer.faces.map((f, i) => {
    const { x, y, width: w, height: h } = f.box;
    const text = escapeXml(`${i + 1} ${f.label} ${(f.confidence * 100).toFixed(0)}%`);
    // The label sits above the box, or inside it when the box touches the top edge.
    const labelY = y >= fontSize + stroke ? y - stroke : y + fontSize + stroke;
    return [
      `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="${colour}" stroke-width="${stroke}"/>`,
      `<text x="${x}" y="${labelY}" font-family="sans-serif" font-size="${fontSize}" fill="${colour}" stroke="black" stroke-width="${Math.max(1, stroke / 2)}" paint-order="stroke">${text}</text>`,
    ].join('');
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${faces.join('')}</svg>`;
  return sharp(data).composite([{ input: Buffer.from(svg), top: 0, left: 0 }]).png().toBuffer();
}
