import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT } from '../../lib/paths';

/**
 * With several inference replicas, a latency percentile of the fleet must come from the replicas' histograms
 * summed bucket by bucket (what one histogram of every request would hold); an average or a maximum of
 * per-replica percentiles is not a percentile of anything. compose.test.ts checks that the panels' series exist.
 */
describe('Grafana quantiles over a fleet', () => {
  const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, 'infra/grafana/dashboards/ferops.json'), 'utf8'));
  const exprs: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((t) => t.expr));

  test('when a panel takes a quantile, then it is of bucket rates summed over the replicas (by le and kept labels only)', () => {
    const merged = /histogram_quantile\(\s*[\d.]+\s*,\s*sum by \(le(\s*,\s*\w+)*\)\s*\((rate|increase)\(ferops_\w+_bucket\b/g;
    const quantiles = exprs.filter((e) => e.includes('histogram_quantile('));
    assert.ok(quantiles.length >= 9, 'the latency panels are there');
    for (const e of quantiles) {
      assert.equal((e.match(merged) ?? []).length, (e.match(/histogram_quantile\(/g) ?? []).length, `quantile of unmerged buckets: ${e}`);
      assert.doesNotMatch(e, /sum by \(le[^)]*\b(instance|pod|job)\b/, `a quantile per replica: ${e}`);
    }
  });

  test('when a panel aggregates, then it never averages series or takes quantiles across them', () => {
    for (const e of exprs) assert.doesNotMatch(e, /\b(avg|quantile|avg_over_time|quantile_over_time)\s*(by\s*\([^)]*\)\s*)?\(/, e);
  });

  test('when a panel shows a quantile a replica computed itself (event loop p99), then it shows it per replica, unaggregated', () => {
    const own = exprs.filter((e) => /\bferops_\w*_p\d+(_\w+)?\b/.test(e));
    assert.ok(own.length > 0);
    for (const e of own) assert.match(e, /^ferops_\w+(\{[^}]*\})?$/, e);
  });

  test('when a panel shows a share of the fleet (live accuracy), then it divides sums over replicas, and a per-replica share is labelled as such', () => {
    const panels: { title: string; targets: { expr: string; legendFormat?: string }[] }[] = dashboard.panels;
    const fleet = panels.filter((p) => p.targets.some((t) => /ferops_feedback_(correct|labelled)_faces/.test(t.expr)));
    assert.deepEqual(fleet.map((p) => p.targets[0].expr), ['sum by (version) (ferops_feedback_correct_faces) / sum by (version) (ferops_feedback_labelled_faces)']);
    for (const p of panels.filter((x) => x.targets.some((t) => t.expr.includes('ferops_feedback_accuracy')))) {
      assert.match(p.title, /per replica/, `${p.title}: one series per replica, not the fleet's accuracy`);
      assert.match(p.targets[0].legendFormat ?? '', /\{\{instance\}\}/);
    }
  });
});
