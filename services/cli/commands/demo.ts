import { once } from 'node:events';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { loadConfig, type FeropsConfig } from '../../../lib/config';
import { DEFAULT_DATASET, DEFAULT_TRAINER_SEED, type PipelineInputOverrides } from '../../../lib/pipeline-input';
import { getPhotos } from '../../../infra/photos';
import type { PipelineResult } from '../../../workflows/training-pipeline';
import type { CommandSpec, ParsedArgs } from '../args';
import { follow } from '../follow';
import { startLoad } from '../load-generator';
import { startOrAttach } from '../pipeline-runner';
import { decisionLine } from '../rollout-lines';
import { connectClient } from '../temporal-client';
import { describePrediction, predictFile } from './predict';
import { printAddresses, startConfiguredStack } from './stack';

/**
 * The challenger of the tour: the same data trained twice as long, so it differs from the baseline the way a
 * retrained model does and the canary analysis has something real to judge.
 */
export const CHALLENGER: PipelineInputOverrides = {
  trainer: { train: { epochs: 25, early_stop_patience: 10 } },
  // Shorter windows than the production defaults (20 s) keep the tour short; the load below still gives every
  // window of the 5 % step more canary requests than minRequests.
  rollout: { shadowSeconds: 15, windowSeconds: 15 },
};

/**
 * FEROPS_SEED offsets the seeds of the demo's data and of both trainings together, as it offsets the trainer
 * tests' seeds; unset or 0 keeps the defaults.
 */
export function seeded(o: PipelineInputOverrides, offset: number | undefined): PipelineInputOverrides {
  if (!offset) return o;
  return { ...o, dataset: { ...DEFAULT_DATASET, seed: DEFAULT_DATASET.seed! + offset }, trainer: { ...o.trainer, seed: DEFAULT_TRAINER_SEED + offset } };
}

export const DEMO_ARGS: CommandSpec = { usage: 'demo [--once]', switches: ['once'], positionals: 0 };

/**
 * The one-command tour: start the embedded stack; run the default pipeline (synthetic faces, tiny ViT) until the
 * first model serves; run a challenger through a canary rollout (shadow, traffic steps, analysis) while real faces
 * are sent to the service; print the addresses and one prediction on a real photo; stay up until Ctrl-C (or exit
 * with --once). Re-running reuses the data dir and attaches to the same pipelines instead of training again.
 */
export async function demoCommand(args: ParsedArgs): Promise<number> {
  const started = Date.now();
  const config = loadConfig();
  console.log(`starting the embedded stack (data in ${config.dataDir}) ...`);
  const stack = await startConfiguredStack(config);
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stack.stop());
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  process.once('SIGTERM', () => void stop().then(() => process.exit(143)));
  try {
    printAddresses(stack);
    const client = await connectClient(config);
    const baseline = await runPipeline(client, config, stack.inferenceUrl, 'baseline', seeded({}, config.seed));
    if (baseline.outcome !== 'promoted') return 1;
    const rolloutStart = Date.now();
    const challenger = await runPipeline(client, config, stack.inferenceUrl, 'challenger', seeded(CHALLENGER, config.seed));
    for (const d of challenger.rollout?.decisions ?? []) {
      console.log(`  ${decisionLine(d)}`);
    }
    console.log(`challenger pipeline and rollout took ${((Date.now() - rolloutStart) / 1000).toFixed(0)} s`);
    const photos = getPhotos();
    const photo = photos.graceHopper;
    console.log(`prediction on ${photo}:`);
    console.log(describePrediction(await predictFile(stack.inferenceUrl, photo)));
    console.log(`demo finished in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    printAddresses(stack);
    if (args.flags.once) return 0;
    console.log('the stack stays up: press Ctrl-C to stop it');
    await once(process, 'SIGINT');
    return 0;
  } finally {
    await stop();
  }
}

/** Starts (or attaches to) one pipeline and follows it; during its rollout, real faces load the service. */
async function runPipeline(client: Client, config: FeropsConfig, inferenceUrl: string, label: string, overrides: PipelineInputOverrides): Promise<PipelineResult> {
  const { handle, attached } = await startOrAttach(client, config.taskQueue, overrides);
  console.log(`${label}: ${attached ? 'attached to' : 'started'} pipeline ${handle.workflowId}`);
  let load: ReturnType<typeof startLoad> | undefined;
  const result = await follow(handle, {
    onProgress: (p) => {
      if (p.progress?.stage === 'rollout' && p.progress.datasetId && !load) {
        load = startLoad(inferenceUrl, join(config.dataDir, 'datasets', p.progress.datasetId), 30);
      }
    },
  });
  if (load) {
    const s = await load.stop();
    console.log(`${label}: load during the rollout: ${s.sent} requests, ${s.ok} answered, ${s.failed} failed`);
  }
  console.log(`${label}: pipeline ${result.outcome}: ${result.reason} (model v${result.modelVersion ?? '-'}, test accuracy ${result.accuracy.toFixed(3)}, MLflow run ${result.mlflowRunId})`);
  return result;
}
