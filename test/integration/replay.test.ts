import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';

// Replays every committed history (test/histories/*.json: each path a workflow can be on while a deploy replaces
// the worker) against today's workflow code: a change that would break executions already running
// (non-determinism) fails here, before it reaches a worker. Record new paths with test/histories/record.ts.
const DIR = join(__dirname, '..', 'histories');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

/** A recorded history and the workflow id it ran under (child workflow ids derive from it, so replay needs it). */
function load(file: string): { workflowId: string; history: temporal.api.history.v1.History } {
  const { workflowId, ...history } = JSON.parse(readFileSync(join(DIR, file), 'utf8'));
  if (typeof workflowId !== 'string') throw new Error(`${file} has no "workflowId": record it with test/histories/record.ts`);
  return { workflowId, history: temporal.api.history.v1.History.fromObject(history) };
}

/** Files are named `<workflow>.<path>.json`. */
const WORKFLOW_OF_PREFIX: Record<string, string> = { 'canary-rollout': 'canaryRollout', 'training-pipeline': 'trainingPipeline', 'drift-monitor': 'driftMonitor' };
const workflowType = (h: temporal.api.history.v1.History) => h.events[0].workflowExecutionStartedEventAttributes?.workflowType?.name;

describe('workflow replay', { timeout: 300_000 }, () => {
  // One bundle for every replay (bundling takes seconds); replay workers log at INFO, the test wants warnings only.
  let options: { workflowBundle: WorkflowBundle };
  before(async () => {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    options = { workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: new DefaultLogger('WARN') }) };
  });

  it('when the histories are listed, then every path that can be in flight during a deploy is covered', () => {
    const recorded = new Set(FILES.map((f) => f.replace(/\.json$/, '')));
    for (const path of ['canary-rollout.approved', 'canary-rollout.aborted', 'canary-rollout.rolled-back', 'canary-rollout.extended',
      'canary-rollout.promoted', 'canary-rollout.queued', 'training-pipeline.promoted', 'training-pipeline.train-failed',
      'training-pipeline.cancelled', 'drift-monitor.retraining-started', 'drift-monitor.no-drift']) {
      assert.ok(recorded.has(path), `no recorded history for ${path}`);
    }
  });

  for (const file of FILES) {
    it(`when ${file} is replayed on the current code, then it is deterministic`, async () => {
      const { workflowId, history } = load(file);
      assert.ok(history.events.length > 10, 'a real history');
      assert.equal(workflowType(history), WORKFLOW_OF_PREFIX[file.split('.')[0]], 'the file name says which workflow it holds');
      await Worker.runReplayHistory(options, history, workflowId);
    });
  }

  it('when a workflow takes a different path than its history, then replay reports non-determinism', async () => {
    const { workflowId, history } = load('canary-rollout.promoted.json');
    // Rename the first scheduled activity: the code schedules the real one, which the history no longer holds.
    const firstActivity = history.events.findIndex((e) => e.activityTaskScheduledEventAttributes);
    history.events[firstActivity].activityTaskScheduledEventAttributes!.activityType = { name: 'somethingElse' };
    await assert.rejects(Worker.runReplayHistory(options, history, workflowId), /[Nn]ondetermin|DeterminismViolation/);
  });

  it('when a history is replayed under another workflow id than it ran with, then its child ids no longer match', async () => {
    const { history } = load('training-pipeline.promoted.json');
    await assert.rejects(Worker.runReplayHistory(options, history, 'another-id'), /[Nn]ondetermin/);
  });
});
