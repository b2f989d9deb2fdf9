/**
 * The train activity's heartbeat, resume and cancel paths in a MockActivityEnvironment, with a fake trainer that
 * speaks the real JSON-lines protocol (test/helpers/fake-trainer.mjs). The SIGKILL runs in
 * test/integration/durability.test.ts cover the same paths with the real trainer, slowly.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createTrainActivity, type MetricSink, type TrainHeartbeat } from '../../activities/train';
import type { TrainOutput } from '../../activities/types';
import { isAlive, processStartId } from '../../lib/process-identity';

const FAKE_TRAINER = resolve(__dirname, '../helpers/fake-trainer.mjs');

function recordingSink(reopen: () => Promise<void>) {
  const logged: { key: string; step: number }[] = [];
  const ensured: { key: string; step: number }[] = [];
  const sink: MetricSink = {
    log: (key, _v, step) => void logged.push({ key, step }),
    flush: async () => undefined,
    ensure: async (points) => void ensured.push(...points.map(({ key, step }) => ({ key, step }))),
    setTags: async () => undefined,
    reopen,
  };
  return { sink, logged, ensured };
}

function setup(fake: Record<string, unknown>, stallMs?: number, reopen: () => Promise<void> = async () => undefined) {
  const runsDir = mkdtempSync(join(tmpdir(), 'ferops-train-activity-'));
  const { sink, logged, ensured } = recordingSink(reopen);
  const train = createTrainActivity({ runsDir, python: FAKE_TRAINER, trainerDir: runsDir, metricSink: () => sink, stallMs });
  const input = { workflowId: 'wf/1', mlflowRunId: 'run-1', datasetUri: '/data/x', trainer: { fake } };
  const outDir = join(runsDir, 'wf_1', 'train');
  const argv = (): string[] => JSON.parse(readFileSync(join(outDir, 'argv.json'), 'utf8'));
  return { train, input, outDir, argv, logged, ensured };
}

function watchHeartbeats(env: MockActivityEnvironment): TrainHeartbeat[] {
  const beats: TrainHeartbeat[] = [];
  env.on('heartbeat', (d: TrainHeartbeat) => beats.push(structuredClone(d)));
  return beats;
}

describe('train activity (MockActivityEnvironment, fake trainer)', () => {
  it('when training runs, then heartbeats name the last checkpoint and its epoch, and each epoch is logged once', async () => {
    const t = setup({ epochs: 3 });
    const env = new MockActivityEnvironment({ attempt: 1 });
    const beats = watchHeartbeats(env);
    const out: TrainOutput = await env.run(t.train, t.input);
    assert.equal(out.epochsRun, 3);
    assert.ok(!t.argv().includes('--resume'), 'a first attempt starts fresh');
    const last = beats.at(-1)!;
    assert.equal(last.checkpointEpoch, 3);
    assert.equal(last.checkpoint, join(t.outDir, 'checkpoints', 'last.pt'));
    assert.deepEqual([last.epochs, last.stepsPerEpoch], [3, 10], 'the trainer\'s start event: the CLI\'s bar goes by steps');
    const epochs = beats.flatMap((b) => (b.epoch === undefined ? [] : [b.epoch]));
    assert.deepEqual(epochs, [...epochs].sort((a, b) => a - b), 'progress never goes back');
    assert.equal(t.logged.filter((p) => p.key === 'val_accuracy').length, 3, 'streamed once per epoch on the first attempt');
  });

  it('when an attempt starts, then it sets the pipeline run running again; an MLflow that is away costs no attempt', async () => {
    let reopened = 0;
    const t = setup({ epochs: 1 }, undefined, async () => void reopened++);
    await new MockActivityEnvironment({ attempt: 1 }).run(t.train, t.input);
    assert.equal(reopened, 1);
    const away = setup({ epochs: 1 }, undefined, async () => Promise.reject(new Error('MLflow unreachable')));
    const out: TrainOutput = await new MockActivityEnvironment({ attempt: 1 }).run(away.train, away.input);
    assert.equal(out.epochsRun, 1);
  });

  it('when training finishes, then its checkpoints are removed (the model dir holds the result), set-aside corrupt ones kept', async () => {
    const t = setup({ epochs: 2 });
    const dir = join(t.outDir, 'checkpoints');
    mkdirSync(dir, { recursive: true });
    // Left by earlier attempts: a damaged checkpoint set aside, and a write cut short by a SIGKILL.
    for (const f of ['last.pt.corrupt', 'best.pt.tmp-4242']) writeFileSync(join(dir, f), 'x');
    const out: TrainOutput = await new MockActivityEnvironment({ attempt: 1 }).run(t.train, t.input);
    assert.equal(out.epochsRun, 2);
    assert.deepEqual(readdirSync(dir), ['last.pt.corrupt']);
    assert.ok(existsSync(join(out.modelDir, 'metrics.json')), 'the model dir stays');
  });

  it('when a retry starts with heartbeat details, then it resumes from the checkpoint they name and reports it at once', async () => {
    const t = setup({ epochs: 3 });
    const saved = join(t.outDir, 'kept', 'epoch1.pt');
    mkdirSync(join(t.outDir, 'kept'), { recursive: true });
    writeFileSync(saved, JSON.stringify({ epoch: 1 }));
    const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { checkpoint: saved, checkpointEpoch: 1, epoch: 1 } });
    const beats = watchHeartbeats(env);
    const out: TrainOutput = await env.run(t.train, t.input);
    assert.deepEqual(t.argv().slice(t.argv().indexOf('--resume')), ['--resume', saved]);
    assert.equal(beats[0].checkpoint, saved, 'the first heartbeat keeps the checkpoint, so a kill before epoch 2 loses nothing');
    assert.equal(out.epochsRun, 3);
    assert.equal(t.logged.length, 0, 'a retry streams nothing blindly');
    const steps = new Set(t.ensured.filter((p) => p.key === 'val_accuracy').map((p) => p.step));
    assert.deepEqual([...steps].sort(), [2, 3], 'the epochs this attempt trained are ensured, no more');
  });

  it('when the activity is cancelled mid-epoch, then it ends only after the trainer wrote its checkpoint and exited', async () => {
    const t = setup({ epochs: 50, epochMs: 200, sigtermMs: 700 });
    const env = new MockActivityEnvironment({ attempt: 1 });
    env.on('heartbeat', (d: TrainHeartbeat) => {
      if (d.checkpointEpoch === 1) env.cancel();
    });
    const started = Date.now();
    await assert.rejects(env.run(t.train, t.input), (e: unknown) => e instanceof CancelledFailure);
    assert.ok(existsSync(join(t.outDir, 'sigterm-checkpoint-done')), 'the cancelled activity waited for the SIGTERM checkpoint');
    const pid = Number(readFileSync(join(t.outDir, 'trainer.pid'), 'utf8'));
    assert.throws(() => process.kill(pid, 0), 'the trainer is gone');
    assert.ok(Date.now() - started < 30_000, 'no hang');
    assert.ok(JSON.parse(readFileSync(join(t.outDir, 'checkpoints', 'last.pt'), 'utf8')).epoch < 50);
  });

  it('when the trainer rejects the checkpoint a retry resumes from, then it is set aside and the next attempt starts clean', async () => {
    const t = setup({ epochs: 2, rejectResume: true });
    const bad = join(t.outDir, 'checkpoints', 'last.pt');
    mkdirSync(join(t.outDir, 'checkpoints'), { recursive: true });
    writeFileSync(bad, 'garbage');
    const env = new MockActivityEnvironment({ attempt: 2 });
    const beats = watchHeartbeats(env);
    await assert.rejects(env.run(t.train, t.input), (e: unknown) => {
      assert.ok(e instanceof ApplicationFailure);
      assert.equal(e.type, 'CorruptCheckpoint');
      assert.equal(e.nonRetryable, false);
      return true;
    });
    assert.ok(!existsSync(bad) && existsSync(`${bad}.corrupt`), 'the rejected file is kept aside, never resumed again');
    assert.equal(beats.at(-1)!.checkpoint, undefined, 'the last heartbeat no longer names it');
  });

  it('when the trainer hangs (no event, deaf to SIGTERM), then it is killed after the stall limit and the attempt fails retryably, naming its last event', async () => {
    const t = setup({ epochs: 5, hangAfterEpochs: 1 }, 1_500);
    const env = new MockActivityEnvironment({ attempt: 1 });
    const beats = watchHeartbeats(env);
    const started = Date.now();
    await assert.rejects(env.run(t.train, t.input), (e: unknown) => {
      assert.ok(e instanceof ApplicationFailure);
      assert.equal(e.type, 'TrainerStalled');
      assert.equal(e.nonRetryable, false);
      assert.match(e.message, /^trainer stalled: no event for 2 s \(last: epoch at step 10, epoch 1\), so it was taken as hung and killed; the retry resumes from the last checkpoint$/);
      return true;
    });
    assert.ok(Date.now() - started < 20_000, 'noticed within the limit, not at the attempt timeout');
    assert.throws(() => process.kill(Number(readFileSync(join(t.outDir, 'trainer.pid'), 'utf8')), 0), 'the hung trainer is gone');
    assert.equal(beats.at(-1)!.checkpointEpoch, 1, 'the heartbeat still names the checkpoint the retry resumes from');
  });

  it('when an epoch outlasts the stall limit but the trainer sends keep-alives, then it is not taken as hung', async () => {
    const t = setup({ epochs: 2, epochMs: 2_500, aliveEveryMs: 300 }, 1_500);
    const out: TrainOutput = await new MockActivityEnvironment({ attempt: 1 }).run(t.train, t.input);
    assert.equal(out.epochsRun, 2);
  });

  it('when trainer.pid names a trainer-like process, then the new attempt stops it only if its start id is the recorded one', async () => {
    // Stand-ins whose command line names ferops_trainer, in groups of their own, as a left-behind trainer would be.
    const orphan = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'ferops_trainer'], { detached: true, stdio: 'ignore' });
    const stranger = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'ferops_trainer'], { detached: true, stdio: 'ignore' });
    try {
      await sleep(200);
      for (const [proc, startId] of [[orphan, processStartId(orphan.pid!)!], [stranger, processStartId(stranger.pid!)!.replace(/^[^:]+/, 'an-earlier-boot')]] as const) {
        const t = setup({ epochs: 1 });
        mkdirSync(t.outDir, { recursive: true });
        writeFileSync(join(t.outDir, 'trainer.pid'), String(proc.pid));
        writeFileSync(join(t.outDir, 'trainer.pid.start-id'), startId);
        await new MockActivityEnvironment({ attempt: 2 }).run(t.train, t.input);
      }
      assert.equal(isAlive(orphan.pid!), false, 'the previous attempt\'s trainer was stopped');
      assert.equal(isAlive(stranger.pid!), true, 'a process that only reuses the pid (after a reboot) was left alone');
    } finally {
      for (const p of [orphan, stranger]) p.kill('SIGKILL');
    }
  });
});
