import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AFTER, SCENARIOS, simulate } from '../../bench/canary-sim';
import { DEFAULT_PIPELINE_INPUT } from '../../lib/pipeline-input';

// A small run of the canary simulator (bench/canary-sim.ts) through the real analysis and decision loop: the
// error rates the defaults promise, with margins wide enough for any seed (the full table: docs/canary-analysis.md).
const scenario = (name: string) => SCENARIOS.filter((s) => s.name.startsWith(name));
const run = (name: string) =>
  simulate({ rollouts: 200, seed: 3, analyser: AFTER, rollout: DEFAULT_PIPELINE_INPUT.rollout, sequential: true, scenarios: scenario(name), rates: [20] })[0];

describe('canary simulator, 200 rollouts at 20 requests/s', { timeout: 120_000 }, () => {
  it('when the candidate is identical to stable, then at most 3 % of rollouts roll it back (budget: 1 %)', () => {
    const aa = run('A/A');
    assert.ok(aa.wrong <= 0.03, `false rollbacks ${aa.wrong}`);
    assert.ok(aa.medianSeconds <= 120, `median ${aa.medianSeconds} s`);
  });
  it('when the candidate shifts the predicted classes within the tolerance, as a retrain does, then at most 3 % are rolled back', () => {
    const shifted = run('tolerated class shift');
    assert.ok(shifted.wrong <= 0.03, `false rollbacks ${shifted.wrong}`);
  });
  it('when the candidate is 2x slower, then at least 90 % are rolled back by the end of the first traffic window', () => {
    const slow = run('latency 2x');
    assert.ok(slow.wrong <= 0.1, `promoted ${slow.wrong}`);
    // Shadow (20 s) plus the first step's window (20 s): the rollback lands within both.
    assert.ok(slow.p90Seconds <= 40, `p90 ${slow.p90Seconds} s`);
  });
});
