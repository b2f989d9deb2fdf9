import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TrainInput, TrainOutput } from '../types';
import { trainerNproc } from './launch';
import { runTrainer } from './run-trainer';
import { classifyFailure, describeFailure } from './trainer-failure';
import type { TrainerEvent } from './trainer-events';

/** Where the run's record goes (an MLflow run in production); metric points are keyed by (key, step). */
export interface MetricSink {
  log(key: string, value: number, step: number): void;
  flush(): Promise<void>;
  /** Logs each point the run does not hold yet (by key and step); safe to repeat. */
  ensure(points: { key: string; value: number; step: number }[]): Promise<void>;
  /** Sets run tags (idempotent). */
  setTags(tags: Record<string, string>): Promise<void>;
  /** Sets the run running again if a failed or cancelled execution of its pipeline ended it (then reset in the UI). */
  reopen(): Promise<void>;
}

export interface TrainDeps {
  runsDir: string;
  python: string;
  trainerDir: string;
  /** FEROPS_TRAIN_NPROC: processes per training on this worker's host; overrides the trainer config's `nproc`. */
  nproc?: number;
  /** FEROPS_TRAIN_STALL_SECONDS: a trainer silent this long is hung; it is killed and the attempt fails retryably. */
  stallMs?: number;
  metricSink: (mlflowRunId: string) => MetricSink;
}

export interface TrainHeartbeat {
  epoch?: number;
  epochs?: number;
  /** Optimizer steps so far (over every epoch) and per epoch: how far training is within an epoch. */
  step?: number;
  stepsPerEpoch?: number;
  loss?: number;
  valAccuracy?: number;
  /** The last checkpoint written, and the epoch it ends: a retry resumes there. */
  checkpoint?: string;
  checkpointEpoch?: number;
}

type ParityRecord = Extract<TrainerEvent, { event: 'parity' }>;
type EpochRecord = Pick<Extract<TrainerEvent, { event: 'epoch' }>, 'epoch' | 'train_loss' | 'val_loss' | 'val_accuracy' | 'lr' | 'images_per_s'>;

/** The MLflow metric points of one epoch, stepped by epoch number. */
const epochPoints = (e: EpochRecord) => [
  { key: 'train_loss', value: e.train_loss, step: e.epoch },
  { key: 'val_loss', value: e.val_loss, step: e.epoch },
  { key: 'val_accuracy', value: e.val_accuracy, step: e.epoch },
  { key: 'learning_rate', value: e.lr, step: e.epoch },
  { key: 'images_per_s', value: e.images_per_s, step: e.epoch },
];

/**
 * A directory name safe for any workflow id (ids may hold '/' and ':'): never a path separator, and never '', '.'
 * or '..', which would name the runs directory or its parent.
 */
export const safeName = (id: string): string => {
  const name = id.replace(/[^\w.-]+/g, '_');
  return /^\.*$/.test(name) ? name.replace(/\./g, '_') || '_' : name;
};

/**
 * Checkpoints only resume a run, and a finished one never resumes (a retry returns result.json); the model and its
 * history are in the model dir. A large model's fill the data volume pipeline by pipeline (README, "Retries resume").
 * A failed or cancelled run keeps its checkpoints for a later resume, and set-aside `.corrupt` files stay.
 */
function removeCheckpoints(dir: string): void {
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) if (!f.endsWith('.corrupt')) rmSync(join(dir, f), { recursive: true, force: true });
}

export function createTrainActivity(deps: TrainDeps) {
  return async function train(input: TrainInput): Promise<TrainOutput> {
    const ctx = Context.current();
    const outDir = join(deps.runsDir, safeName(input.workflowId), 'train');
    const resultFile = join(outDir, 'result.json');
    // A retry after the trainer finished (e.g. the worker died before reporting) returns the same result.
    if (existsSync(resultFile)) return JSON.parse(readFileSync(resultFile, 'utf8')) as TrainOutput;
    mkdirSync(outDir, { recursive: true });
    const configPath = join(outDir, 'trainer-config.json');
    const nproc = trainerNproc(deps.nproc, input.trainer);
    // The config records the count the run used: the start event and every checkpoint say how it was trained.
    const trainerConfig = { ...input.trainer, ...(deps.nproc === undefined ? {} : { nproc }), dataset_dir: input.datasetUri, output_dir: outDir };
    writeFileSync(configPath, JSON.stringify(trainerConfig, null, 2));

    const previous = ctx.info.heartbeatDetails as TrainHeartbeat | undefined;
    const onDisk = join(outDir, 'checkpoints', 'last.pt');
    // The heartbeat names the last checkpoint; the file on disk covers a heartbeat lost with a killed worker.
    const resumeFrom = [previous?.checkpoint, onDisk].find((p): p is string => !!p && existsSync(p));
    const progress: TrainHeartbeat = { ...previous, checkpoint: resumeFrom };
    const sink = deps.metricSink(input.mlflowRunId);
    // A reset past ingest trains again in a run that reads FAILED; only how the run looks depends on it, so an MLflow
    // that is away costs no attempt.
    await sink.reopen().catch((e: unknown) => ctx.log.warn('could not set the pipeline run running again', { error: String(e) }));
    const beat = setInterval(() => ctx.heartbeat(progress), 5_000);
    ctx.heartbeat(progress);

    const firstAttempt = ctx.info.attempt === 1;
    let resent: Promise<void> = Promise.resolve();
    const onEvent = (e: TrainerEvent) => {
      if (e.event === 'start') Object.assign(progress, { epochs: e.epochs, stepsPerEpoch: e.steps_per_epoch });
      if (e.event === 'step') Object.assign(progress, { epoch: e.epoch, step: e.step, loss: e.loss });
      if (e.event === 'checkpoint') Object.assign(progress, { checkpoint: e.path, checkpointEpoch: e.epoch });
      if (e.event === 'epoch') {
        Object.assign(progress, { epoch: e.epoch, epochs: e.epochs, step: e.step, loss: e.train_loss, valAccuracy: e.val_accuracy });
        if (firstAttempt) for (const p of epochPoints(e)) sink.log(p.key, p.value, p.step);
        // A retry replays epochs an earlier attempt may already have logged (a clean restart after a corrupt
        // checkpoint, or a kill between the epoch event and its checkpoint): log only what MLflow lacks. An error
        // here (MLflow down) is left to the ensure() after training, which covers every epoch.
        else resent = resent.then(() => sink.ensure(epochPoints(e))).catch(() => undefined);
        ctx.heartbeat(progress);
      }
    };
    let run;
    try {
      run = await runTrainer({
        python: deps.python, cwd: deps.trainerDir, configPath, resumeFrom, nproc, logDir: outDir, onEvent,
        signal: ctx.cancellationSignal, stallMs: deps.stallMs,
      });
    } finally {
      clearInterval(beat);
      await resent;
      await sink.flush();
    }
    if (ctx.cancellationSignal.aborted) throw new CancelledFailure('training cancelled; checkpoint kept for a later resume');
    if (run.exitCode === 0 && run.done) {
      const out: TrainOutput = {
        outputDir: outDir,
        modelDir: run.done.model_dir,
        epochsRun: run.done.epochs_run,
        bestValAccuracy: run.done.best_val_accuracy,
        test: { accuracy: run.done.test.accuracy, macroF1: run.done.test.macro_f1 },
      };
      // Points streamed by an attempt that was killed may never have reached MLflow; the trainer's own history
      // (kept in its checkpoints) is the record, so every epoch ends up logged exactly once.
      const { history, parity } = JSON.parse(readFileSync(join(out.modelDir, 'metrics.json'), 'utf8')) as { history: EpochRecord[]; parity: ParityRecord };
      await sink.ensure([...history.flatMap(epochPoints), ...parityPoints(parity)]);
      await sink.setTags(int8Tags(parity));
      writeFileSync(resultFile, JSON.stringify(out, null, 2));
      removeCheckpoints(join(outDir, 'checkpoints'));
      return out;
    }
    const why = describeFailure(run);
    // The trainer reports a checkpoint that fails its checksum as bad_config "corrupt checkpoint ...".
    if (resumeFrom && run.error && /corrupt checkpoint/i.test(run.error.message)) {
      // Never resume from a checkpoint the trainer rejected: set it aside, and the retry starts clean.
      renameSync(resumeFrom, `${resumeFrom}.corrupt`);
      ctx.heartbeat({ ...progress, checkpoint: undefined });
      throw ApplicationFailure.retryable(`checkpoint ${resumeFrom} is corrupt and was set aside: ${why}`, 'CorruptCheckpoint');
    }
    // The previous attempt's failure is kept beside the checkpoints, where the next attempt looks for them.
    const failureFile = join(outDir, 'last-failure.txt');
    const verdict = classifyFailure(run, existsSync(failureFile) ? readFileSync(failureFile, 'utf8') : undefined);
    writeFileSync(failureFile, why);
    throw ApplicationFailure.create({ message: verdict.message, type: verdict.type, nonRetryable: !verdict.retryable });
  };
}

/** The export's numbers as run metrics (step 0): fp32 parity and, when int8 was exported, its agreement. */
function parityPoints(p: ParityRecord) {
  const points = [{ key: 'onnx_fp32_max_abs_diff', value: p.fp32_max_abs_diff, step: 0 }];
  if (p.int8_top1_agreement !== null) points.push({ key: 'int8_top1_agreement', value: p.int8_top1_agreement, step: 0 });
  if (p.int8_agreement_lower_bound !== null) points.push({ key: 'int8_agreement_lower_bound', value: p.int8_agreement_lower_bound, step: 0 });
  return points;
}

/** Whether the run ships model.int8.onnx, and if not why, where the MLflow UI shows it (the run's tags). */
const int8Tags = (p: ParityRecord): Record<string, string> =>
  p.int8_shipped ? { 'ferops.int8': 'shipped' } : { 'ferops.int8': 'withheld', 'ferops.int8_withheld_reason': p.int8_withheld_reason };
