import { loadConfig, workflowUiUrl } from '../../../lib/config';
import type { DatasetSource, PipelineInputOverrides } from '../../../lib/pipeline-input';
import { type CommandSpec, numberFlag, type ParsedArgs } from '../args';
import { follow } from '../follow';
import { startOrAttach } from '../pipeline-runner';
import { connectClient } from '../temporal-client';
import { modelForWorker, pathForWorker } from '../user-path';

const TRAIN_USAGE = `train [--dataset synthetic|<fer2013.csv>|<image folder>|kaggle:<owner/slug>] [--size N] [--seed N]
      [--epochs N] [--lr X] [--batch-size N] [--model tiny|small|base|<hub id>|<dir>] [--image-size N] [--device auto|cpu|cuda]
      [--min-accuracy X] [--approval] [--id WORKFLOW_ID] [--no-wait]`;
export const TRAIN_ARGS: CommandSpec = {
  usage: TRAIN_USAGE,
  values: ['dataset', 'size', 'seed', 'epochs', 'lr', 'batch-size', 'model', 'image-size', 'device', 'min-accuracy', 'id'],
  switches: ['approval', 'no-wait'],
  positionals: 0,
};

/** The trainer's named sizes (`PRESETS` in training-py/ferops_trainer/model.py): never taken for a directory. */
const MODEL_PRESETS = ['tiny', 'small', 'base'];

/** Turns CLI flags into pipeline input overrides; everything left out keeps its documented default. */
export function trainOverrides(flags: ParsedArgs['flags']): PipelineInputOverrides {
  const o: PipelineInputOverrides = {};
  const ds = flags.dataset;
  if (typeof ds === 'string' && ds !== 'synthetic') o.dataset = datasetFromFlag(ds);
  else if (flags.size !== undefined || flags.seed !== undefined) {
    o.dataset = { kind: 'synthetic', size: numberFlag(flags, 'size') ?? 4000, seed: numberFlag(flags, 'seed') ?? 7 };
  }
  const trainer: Record<string, unknown> = {};
  const model: Record<string, unknown> = {};
  if (typeof flags.model === 'string') model.base = modelForWorker(flags.model, MODEL_PRESETS);
  if (flags['image-size'] !== undefined) model.image_size = numberFlag(flags, 'image-size');
  if (Object.keys(model).length) trainer.model = model;
  const train: Record<string, unknown> = {};
  if (flags.epochs !== undefined) train.epochs = numberFlag(flags, 'epochs');
  if (flags.lr !== undefined) train.lr = numberFlag(flags, 'lr');
  if (flags['batch-size'] !== undefined) train.batch_size = numberFlag(flags, 'batch-size');
  if (Object.keys(train).length) trainer.train = train;
  if (typeof flags.device === 'string') trainer.device = flags.device;
  if (Object.keys(trainer).length) o.trainer = trainer;
  if (flags['min-accuracy'] !== undefined) o.gate = { minAccuracy: numberFlag(flags, 'min-accuracy') };
  if (flags.approval) o.rollout = { approval: 'required' };
  return o;
}

function datasetFromFlag(v: string): DatasetSource {
  if (v.startsWith('kaggle:')) return { kind: 'kaggle', slug: v.slice('kaggle:'.length) };
  const path = pathForWorker(v);
  return v.toLowerCase().endsWith('.csv') ? { kind: 'fer2013-csv', path } : { kind: 'image-folder', path };
}

export async function trainCommand(args: ParsedArgs): Promise<number> {
  const config = loadConfig();
  const client = await connectClient(config);
  const overrides = trainOverrides(args.flags);
  const { handle, attached } = await startOrAttach(client, config.taskQueue, overrides, typeof args.flags.id === 'string' ? args.flags.id : undefined);
  console.log(`${attached ? 'attached to the running/finished' : 'started'} pipeline ${handle.workflowId}`);
  console.log(`  Temporal UI: ${workflowUiUrl(config.temporalUiUrl, handle.workflowId)}`);
  if (args.flags['no-wait']) return 0;
  const result = await follow(handle);
  console.log(JSON.stringify(result, null, 2));
  return 0;
}
