import { Collected } from './collector';
import { IngestError, badSource } from './errors';
import { SPLITS } from '../../lib/dataset/manifest';

/**
 * Fails the ingest when too much of the input was bad: a few broken rows are normal in scraped data, but a
 * large share means the wrong file or a broken export, and training on the rest would hide that.
 */
export function checkRejectRatio(rejected: Collected['rejected'], accepted: number, maxRejectRatio: number): void {
  const seen = accepted + rejected.total;
  if (seen === 0) throw badSource('the source holds no rows or images');
  const ratio = rejected.total / seen;
  if (ratio <= maxRejectRatio) return;
  const reasons = Object.entries(rejected.byReason).map(([r, n]) => `${r}: ${n}`).join(', ');
  const examples = rejected.rows.slice(0, 5).map((r) => `${r.where} (${r.reason})`).join('; ');
  throw new IngestError(
    'too_many_rejects',
    `rejected ${rejected.total} of ${seen} rows (${(ratio * 100).toFixed(1)}% > ${(maxRejectRatio * 100).toFixed(1)}%): ` +
      `${reasons}. Examples: ${examples}`,
    true,
  );
}

/** Training, validation and test all need data; an empty split means the source is not what it claims. */
export function checkSplitsPresent(data: Collected): void {
  const empty = SPLITS.filter((s) => data.splits[s].count === 0);
  if (empty.length > 0) {
    const counts = SPLITS.map((s) => `${s}=${data.splits[s].count}`).join(', ');
    throw badSource(`the source gives no ${empty.join(' or ')} data (${counts})`);
  }
}
