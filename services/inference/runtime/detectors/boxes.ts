import type { Box } from './detector';

/** Box arithmetic shared by the detectors. */

export interface ScoredBox extends Box {
  score: number;
}

export function intersectionOverUnion(a: Box, b: Box): number {
  const inter = intersection(a, b);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/** The overlap over the smaller box's area: 1 when one box lies inside the other. */
export function intersectionOverSmaller(a: Box, b: Box): number {
  const smaller = Math.min(a.width * a.height, b.width * b.height);
  return smaller > 0 ? intersection(a, b) / smaller : 0;
}

function intersection(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const h = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  return w * h;
}

/**
 * Greedy NMS: keep the best box, drop every box overlapping it by more than `limit` (by `overlap`, IoU unless
 * said otherwise), repeat.
 */
export function nonMaxSuppression<T extends ScoredBox>(boxes: T[], limit: number, overlap: (a: Box, b: Box) => number = intersectionOverUnion): T[] {
  const kept: T[] = [];
  for (const box of [...boxes].sort((a, b) => b.score - a.score)) if (kept.every((k) => overlap(k, box) <= limit)) kept.push(box);
  return kept;
}
