import { once } from 'node:events';
import { join } from 'node:path';
import { loadConfig } from '../../../lib/config';
import { getPhotos } from '../../../test/fixtures/photos';
import type { ParsedArgs } from '../args';
import { follow } from '../follow';
import { startLoad } from '../load-generator';
import { startOrAttach } from '../pipeline-runner';
import { connectClient } from '../temporal-client';
import { describePrediction, predictFile } from './predict';
import { printAddresses, startConfiguredStack } from './stack';

/**
 * The one-command tour: start the embedded stack, run the default pipeline (synthetic faces, tiny ViT) with live
 * progress until the new model serves, print the addresses and one prediction on a real photo, then stay up
 * until Ctrl-C (or exit at once with --once). Re-running reuses the data dir and attaches to the same pipeline.
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
    const { handle, attached } = await startOrAttach(client, config.taskQueue, {});
    console.log(`${attached ? 'attached to' : 'started'} pipeline ${handle.workflowId}`);
    // During a canary rollout, real faces are sent to the service so every analysis window has traffic.
    let load: ReturnType<typeof startLoad> | undefined;
    const result = await follow(handle, {
      onProgress: (p) => {
        if (p.progress?.stage === 'rollout' && p.progress.datasetId && !load) {
          load = startLoad(stack.inferenceUrl, join(config.dataDir, 'datasets', p.progress.datasetId));
        }
      },
    });
    if (load) {
      const s = await load.stop();
      console.log(`load during the rollout: ${s.sent} requests, ${s.ok} answered, ${s.failed} failed`);
    }
    console.log(`pipeline ${result.outcome}: ${result.reason} (model v${result.modelVersion ?? '-'}, test accuracy ${result.accuracy.toFixed(3)}, MLflow run ${result.mlflowRunId})`);
    const photos = getPhotos();
    const photo = photos.graceHopper ?? photos.samples[0];
    console.log(`prediction on ${photo}:`);
    console.log(describePrediction(await predictFile(stack.inferenceUrl, photo)));
    console.log(`demo finished its pipeline in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    printAddresses(stack);
    if (args.flags.once) return result.outcome === 'refused' ? 1 : 0;
    console.log('the stack stays up: press Ctrl-C to stop it');
    await once(process, 'SIGINT');
    return 0;
  } finally {
    await stop();
  }
}
