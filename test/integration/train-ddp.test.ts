import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createTrainActivity, type MetricSink } from '../../activities/train';
import type { TrainOutput } from '../../activities/types';
import { loadConfig } from '../../lib/config';
import { pythonBin, TRAINER_DIR } from '../../lib/paths';

// The train activity with FEROPS_TRAIN_NPROC=2: the real trainer under torchrun (2 CPU processes, gloo).
const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
let dir: string;
let datasetUri: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferops-train-ddp-'));
  datasetUri = join(dir, 'dataset');
  const write = 'import sys; sys.path.insert(0, "tests"); from synthetic import write_dataset; write_dataset(sys.argv[1], train=320, val=96, test=96, seed=3)';
  execFileSync(pythonBin(), ['-c', write, datasetUri], { cwd: TRAINER_DIR });
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Records the points the activity logs; MLflow itself is not this test's subject. */
function memorySink() {
  const points: { key: string; value: number; step: number }[] = [];
  const sink: MetricSink = {
    log: (key, value, step) => void points.push({ key, value, step }),
    flush: async () => {},
    ensure: async () => {},
    setTags: async () => {},
    reopen: async () => {},
  };
  return { points, sink };
}

describe('train activity with FEROPS_TRAIN_NPROC=2', () => {
  it('when the worker asks for 2 processes, then torchrun trains, rank 0 reports each epoch once and the model is exported', async () => {
    const { trainNproc } = loadConfig({ FEROPS_TRAIN_NPROC: '2' });
    const { points, sink } = memorySink();
    const train = createTrainActivity({ runsDir: join(dir, 'runs'), python: pythonBin(), trainerDir: TRAINER_DIR, nproc: trainNproc, metricSink: () => sink });
    const trainer = {
      seed: 7,
      model: { base: 'tiny', image_size: 32, patch_size: 8 },
      train: { epochs: 2, batch_size: 32, lr: 0.002, early_stop_patience: 0, num_threads: 1 },
      export: { int8: false },
    };
    const out = (await new MockActivityEnvironment({}, { logger: quiet }).run(train, { workflowId: 'ddp-1', mlflowRunId: 'run-1', datasetUri, trainer })) as TrainOutput;

    assert.equal(out.epochsRun, 2);
    assert.ok(out.test.accuracy >= 0 && out.test.accuracy <= 1);
    const events = readFileSync(join(out.outputDir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; world_size?: number; config?: { nproc: number } });
    const start = events.filter((e) => e.event === 'start');
    assert.equal(start.length, 1);
    assert.equal(start[0].world_size, 2);
    assert.equal(start[0].config?.nproc, 2);
    assert.deepEqual(points.filter((p) => p.key === 'val_accuracy').map((p) => p.step), [1, 2]);
    assert.ok(readFileSync(join(out.modelDir, 'model.onnx')).length > 0);
  });

  it('when FEROPS_TRAIN_NPROC is not a positive integer, then the configuration is refused with the key named', () => {
    assert.throws(() => loadConfig({ FEROPS_TRAIN_NPROC: '0' }), /trainNproc/);
    assert.throws(() => loadConfig({ FEROPS_TRAIN_NPROC: 'two' }), /trainNproc/);
  });
});
