import type { LiveProgress } from './pipeline-runner';

/** One line of live progress: stage, a bar over the five stages (or over epochs while training), epoch and loss, and why it is stalled. */
export function renderProgress(p: LiveProgress, width = 24): string {
  const stage = p.progress?.stage ?? 'starting';
  const t = p.training;
  const fraction =
    stage === 'train' && t?.epochs ? ((t.epoch ?? 0) / t.epochs) : stageFraction(stage);
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  const parts = [`[${bar}]`, stage.padEnd(8)];
  if (stage === 'train' && t) {
    if (t.epoch !== undefined) parts.push(`epoch ${t.epoch}/${t.epochs ?? '?'}`);
    if (t.loss !== undefined) parts.push(`loss ${t.loss.toFixed(4)}`);
    if (t.valAccuracy !== undefined) parts.push(`val_acc ${t.valAccuracy.toFixed(3)}`);
  }
  const last = p.progress?.stages.at(-1);
  if (stage !== 'train' && last?.detail) parts.push(last.detail);
  if (p.stalled) parts.push(p.stalled);
  if (p.status !== 'RUNNING') parts.push(`(${p.status})`);
  return parts.join('  ');
}

const ORDER = ['ingest', 'train', 'evaluate', 'register', 'rollout', 'done'];
const stageFraction = (stage: string): number => Math.max(0, ORDER.indexOf(stage)) / (ORDER.length - 1);
