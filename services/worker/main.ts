import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { loadConfig } from '../../lib/config';

/**
 * The Temporal worker: one process serving two task queues. The pipeline queue runs the workflows and the light
 * activities; the training queue runs `train` alone, one at a time, so GPU hosts can serve just that queue.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const activities = createActivities(config);
  const common = { connection, namespace: config.temporalNamespace, shutdownGraceTime: '45s' } as const;
  const pipeline = await Worker.create({
    ...common,
    taskQueue: config.taskQueue,
    workflowsPath: require.resolve('../../workflows'),
    activities,
  });
  const training = await Worker.create({
    ...common,
    taskQueue: config.trainingTaskQueue,
    activities: { train: activities.train },
    maxConcurrentActivityTaskExecutions: 1,
  });
  console.log(JSON.stringify({ msg: 'worker ready', taskQueues: [config.taskQueue, config.trainingTaskQueue] }));
  // Worker.run resolves after SIGINT/SIGTERM once in-flight tasks finish (or the grace time ends).
  await Promise.all([pipeline.run(), training.run()]);
  await connection.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
