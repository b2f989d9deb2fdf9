import type { LiveProgress } from './pipeline-runner';

/**
 * One line of live progress: stage, a bar over the five stages (over epochs while training, over the current phase
 * while ingesting), epoch and loss or the ingest phase's count, and why it is stalled.
 */
export function renderProgress(p: LiveProgress, width = 24): string {
  const stage = p.progress?.stage ?? 'starting';
  const t = p.training;
  const ingest = stage === 'ingest' ? p.ingesting : undefined;
  const fraction =
    stage === 'train' && t?.epochs ? trainFraction(t)
      : ingest?.total ? ingest.done / ingest.total
        : stageFraction(stage);
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  const parts = [`[${bar}]`, stage.padEnd(8)];
  if (stage === 'train' && t) {
    if (t.epoch !== undefined) parts.push(`epoch ${t.epoch}/${t.epochs ?? '?'}`);
    if (t.loss !== undefined) parts.push(`loss ${t.loss.toFixed(4)}`);
    if (t.valAccuracy !== undefined) parts.push(`val_acc ${t.valAccuracy.toFixed(3)}`);
  }
  if (ingest) parts.push(ingestLine(ingest));
  const last = p.progress?.stages.at(-1);
  if (stage !== 'train' && last?.detail) parts.push(last.detail);
  if (p.stalled) parts.push(p.stalled);
  if (p.status !== 'RUNNING') parts.push(`(${p.status})`);
  return parts.join('  ');
}

/** By steps when the trainer said how many an epoch has (a one-epoch run's bar moves); else by epochs. */
function trainFraction(t: NonNullable<LiveProgress['training']>): number {
  if (t.step !== undefined && t.stepsPerEpoch && t.epochs) return t.step / (t.stepsPerEpoch * t.epochs);
  return (t.epoch ?? 0) / t.epochs!;
}

const ORDER = ['ingest', 'train', 'evaluate', 'register', 'rollout', 'done'];
const stageFraction = (stage: string): number => Math.max(0, ORDER.indexOf(stage)) / (ORDER.length - 1);

/** The ingest activity's phases (activities/ingest), in words; the byte-counted ones are shown in MB. */
const INGEST_PHASES: Record<string, string> = {
  'hash-source': 'hashing files',
  'decode-images': 'decoding images',
  'parse-csv': 'reading the CSV',
  download: 'downloading',
  generate: 'generating faces',
  write: 'writing the dataset',
};
const BYTE_PHASES = new Set(['parse-csv', 'download']);

function ingestLine({ phase, done, total }: NonNullable<LiveProgress['ingesting']>): string {
  const name = INGEST_PHASES[phase] ?? phase;
  if (phase === 'write') return name;
  if (BYTE_PHASES.has(phase)) {
    const mb = (bytes: number) => (bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0);
    return `${name} ${mb(done)}${total ? `/${mb(total)}` : ''} MB`;
  }
  return `${name} ${done}${total ? `/${total}` : ''}`;
}
