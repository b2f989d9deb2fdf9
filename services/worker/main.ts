import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { activityDeps, createActivities } from '../../activities';
import { loadConfig } from '../../lib/config';
import { PIPELINE_SHUTDOWN_GRACE_SECONDS } from '../../lib/temporal-constants';
import { temporalTls } from '../../lib/temporal-tls';
import { driftScheduleFromEnv, ensureSchedules, housekeepingScheduleFromEnv } from './schedules';

/**
 * The Temporal worker. By default one process serves both task queues: the pipeline queue (workflows and the
 * light activities) and the training queue (`train` alone, one at a time). FEROPS_WORKER_TASK_QUEUES splits
 * them across hosts, e.g. GPU machines that serve only the training queue.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const queues = config.workerTaskQueues.length ? config.workerTaskQueues : [config.taskQueue, config.trainingTaskQueue];
  const unknown = queues.filter((q) => q !== config.taskQueue && q !== config.trainingTaskQueue);
  if (unknown.length) throw new Error(`FEROPS_WORKER_TASK_QUEUES names unknown queues: ${unknown.join(', ')}`);
  // Read before connecting: a bad interval or retraining input stops the worker at once, naming its key.
  const schedules = { drift: driftScheduleFromEnv(), housekeeping: housekeepingScheduleFromEnv() };
  const connection = await NativeConnection.connect({ address: config.temporalAddress, tls: temporalTls(config) });
  const activities = createActivities(activityDeps(config));
  // Heartbeats reach the server as often as activities send them (the trainer's every 5 s), not throttled to 0.8 of
  // the heartbeat timeout: the live epoch in `ferops status` and the Temporal UI, and a cancel, arrive that soon.
  const common = { connection, namespace: config.temporalNamespace, maxHeartbeatThrottleInterval: '5s' } as const;
  const workers: Worker[] = [];
  if (queues.includes(config.taskQueue)) {
    // The pipeline's activities take minutes: a stopping worker lets them finish for a while.
    const grace = `${PIPELINE_SHUTDOWN_GRACE_SECONDS}s` as const;
    const pipeline = { taskQueue: config.taskQueue, workflowsPath: require.resolve('../../workflows'), activities, shutdownGraceTime: grace };
    workers.push(await Worker.create({ ...common, ...pipeline }));
    // The scheduled workflows run on this queue, so whichever worker serves it makes sure their schedules exist (the
    // embedded stack, Compose and Kubernetes alike). Serving pipelines does not wait on it: a failure is logged.
    await ensureSchedules(new Client({ connection, namespace: config.temporalNamespace }), schedules).catch((e: unknown) =>
      console.error(JSON.stringify({ msg: 'could not create or update the Temporal schedules', error: e instanceof Error ? e.message : String(e) })),
    );
  }
  if (queues.includes(config.trainingTaskQueue)) {
    // No grace lets a training of hours finish: a stopping worker cancels it at once, so the trainer checkpoints where
    // it is and exits, before the process manager's own grace runs out (and kills the worker, leaving the trainer,
    // which runs in a process group of its own, behind). The retry, on the next worker, resumes from that checkpoint.
    const training = { taskQueue: config.trainingTaskQueue, activities: { train: activities.train }, maxConcurrentActivityTaskExecutions: 1, shutdownGraceTime: 0 } as const;
    workers.push(await Worker.create({ ...common, ...training }));
  }
  console.log(JSON.stringify({ msg: 'worker ready', taskQueues: queues }));
  // Worker.run resolves after SIGINT/SIGTERM once in-flight tasks finish (or the grace time ends).
  await Promise.all(workers.map((w) => w.run()));
  await connection.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
