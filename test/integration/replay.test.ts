import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';

// Replays committed histories of finished executions against today's workflow code: a change that would break
// executions already running (non-determinism) fails here, before it reaches a worker. Re-record with
// test/histories/record.ts only for deliberate, versioned changes.
const HISTORIES: Record<string, string> = {
  'training-pipeline.promoted.json': 'recorded-pipeline',
  'canary-rollout.promoted.json': 'recorded-pipeline/rollout',
};
const load = (file: string) =>
  temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(join(__dirname, '..', 'histories', file), 'utf8')));

describe('workflow replay', { timeout: 120_000 }, () => {
  for (const [file, workflowId] of Object.entries(HISTORIES)) {
    it(`when ${file} is replayed on the current code, then it is deterministic`, async () => {
      const history = load(file);
      assert.ok(history.events.length > 10, 'a real history');
      await Worker.runReplayHistory({ workflowsPath: require.resolve('../../workflows') }, history, workflowId);
    });
  }

  it('when a workflow takes a different path than its history, then replay reports non-determinism', async () => {
    const history = load('canary-rollout.promoted.json');
    // Drop every event after the first activity was scheduled and pretend a timer fired there instead.
    const firstActivity = history.events.findIndex((e) => e.activityTaskScheduledEventAttributes);
    const tampered = temporal.api.history.v1.History.fromObject(JSON.parse(JSON.stringify(history)));
    tampered.events[firstActivity].activityTaskScheduledEventAttributes!.activityType = { name: 'somethingElse' };
    await assert.rejects(Worker.runReplayHistory({ workflowsPath: require.resolve('../../workflows') }, tampered, HISTORIES['canary-rollout.promoted.json']), /[Nn]ondetermin|DeterminismViolation/);
  });
});
