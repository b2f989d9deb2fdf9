import type { RolloutDecision, RolloutState } from '../../workflows/canary-rollout';

/** One canary window's verdict with the numbers it was judged on, so a reader sees how close each decision was. */
export function decisionLine(d: RolloutDecision): string {
  return `canary ${d.phase} ${d.canaryWeight}% (window ${d.attempt}): ${d.analysis.verdict} - ${d.analysis.reasons.join('; ')} (${windowNumbers(d)})`;
}

function windowNumbers({ phase, analysis: { numbers: n } }: RolloutDecision): string {
  const judged = phase === 'shadow'
    ? [`agreement ${n.shadowAgreement.toFixed(2)}`, ...(n.shadowKappa === undefined ? [] : [`kappa ${n.shadowKappa.toFixed(2)} (95 % CI ${n.shadowKappaLow.toFixed(2)}..${n.shadowKappaHigh.toFixed(2)})`])]
    : [`p95 ${n.latencyRatio.toFixed(2)}x`, `class JS ${n.classDivergence.toFixed(3)}`, `confidence ${n.confidenceRatio.toFixed(2)}x`];
  return [`${n.canaryRequests} canary requests`, ...judged].join(', ');
}

/** Where a rollout stands, in one line: its phase, the canary's share of traffic, and what it waits for. */
export function rolloutLine(s: RolloutState): string {
  const parts = [s.phase === 'traffic' ? `traffic ${s.canaryWeight}%` : s.phase.replaceAll('_', ' ')];
  if (s.waitingFor) parts.push(`(another rollout of this model holds ${s.waitingFor})`);
  if (s.phase === 'awaiting_approval') parts.push('(ferops rollout approve|reject <id>)');
  if (s.paused) parts.push('paused');
  return parts.join(' ');
}
