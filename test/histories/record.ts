/**
 * Re-records the committed workflow histories that test/integration/replay.test.ts replays. Run it only when a
 * workflow change is meant to be incompatible (and version the workflow so running executions survive):
 *   node --import tsx test/histories/record.ts
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startOrAttach } from '../../services/cli/pipeline-runner';
import { fakeActivities, healthyStats } from '../helpers/fake-activities';
import { startTemporalTestEnv } from '../helpers/temporal-env';

async function main(): Promise<void> {
  const env = await startTemporalTestEnv();
  try {
    const taskQueue = `record-${randomUUID()}`;
    const world = { calls: [], deployment: { stable: { version: '6', source: 'models:/ferops-fer/6' }, canaryWeight: 0, shadow: false }, stats: healthyStats, accuracy: 0.8 };
    const worker = await env.createWorker({ taskQueue, activities: fakeActivities(world) });
    await worker.runUntil(async () => {
      const overrides = { trainingTaskQueue: taskQueue, rollout: { shadowSeconds: 1, windowSeconds: 1, steps: [50, 100] } };
      const { handle } = await startOrAttach(env.client, taskQueue, overrides, 'recorded-pipeline');
      await handle.result();
      const save = async (id: string, file: string) => {
        const history = await env.client.workflow.getHandle(id).fetchHistory();
        writeFileSync(join(__dirname, file), JSON.stringify(history, null, 1));
      };
      await save('recorded-pipeline', 'training-pipeline.promoted.json');
      await save('recorded-pipeline/rollout', 'canary-rollout.promoted.json');
    });
  } finally {
    await env.teardown();
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
