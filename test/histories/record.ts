/**
 * Records the workflow histories that test/integration/replay.test.ts replays, from real runs: a real Temporal dev
 * server, a real MLflow registry and the real inference service under load for canaryRollout; for driftMonitor the
 * real `logDriftReport` with a scripted `checkDrift` (the real one needs a champion trained by the Python trainer).
 * Each file holds the history plus the `workflowId` it ran under (replay needs it: child ids derive from it).
 *
 * Record against the committed workflow code, so that executions already running stay replayable after a change:
 *   rm -rf /tmp/rec && mkdir /tmp/rec && git archive HEAD | tar -x -C /tmp/rec && ln -s "$PWD/node_modules" /tmp/rec/
 *   node --import tsx /tmp/rec/test/histories/record.ts /tmp/rec-out [scenario ...]
 * then copy the new files into test/histories/ (the replay test picks up every *.json there). Scenarios (default:
 * all): approved, aborted, queued, rolled-back, already-serving, immediate, extended, drift-retraining,
 * drift-no-drift, pipeline-promoted, pipeline-train-failed, pipeline-cancelled. Never overwrite a committed file: it
 * stands for executions started on older code. A few minutes on 2 cores.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { createDeployActivities } from '../../activities/deploy';
import { ingestDataset } from '../../activities/ingest';
import type { LogDriftInput } from '../../activities/monitor';
import { logDriftReport } from '../../activities/monitor/log-report';
import { promoteChampion } from '../../activities/register';
import { readDesiredState } from '../../lib/inference-admin/desired-state';
import { withDefaults, type RolloutInput } from '../../lib/pipeline-input';
import { startLoad } from '../../services/cli/load-generator';
import { canaryRollout } from '../../workflows/canary-rollout';
import { abortSignal, approveUpdate, rolloutStateQuery } from '../../workflows/definitions';
import { driftMonitor } from '../../workflows/drift-monitor';
import { trainingPipeline } from '../../workflows/training-pipeline';
import { scriptedDriftReport } from '../helpers/drift-report';
import { fakeActivities, healthyStats, type FakeWorld } from '../helpers/fake-activities';
import { desireStable, fleetOf, startFollowingService } from '../helpers/following-service';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';
import { registerFixture, startMlflowFixture, type MlflowFixture } from '../integration/mlflow-fixtures';

const MODEL = 'recorded';
const BASE = withDefaults({ rollout: { shadowSeconds: 3, windowSeconds: 3, steps: [50, 100], minRequests: 5, maxExtensions: 1 } }).rollout;
// Same-model candidates differ from stable only by latency noise, which must not decide a recording.
const ROLLOUT: RolloutInput = { ...BASE, thresholds: { ...BASE.thresholds, maxLatencyRatio: 1000 } };

interface Lab { temporal: TemporalTestEnv; mlflow: MlflowFixture; serviceUrl: string; datasetUri: string; taskQueue: string; outDir: string }
type Scenario = (lab: Lab) => Promise<void>;

async function save(lab: Lab, workflowId: string, file: string): Promise<void> {
  const history = JSON.parse(JSON.stringify(await lab.temporal.client.workflow.getHandle(workflowId).fetchHistory()));
  writeFileSync(join(lab.outDir, file), JSON.stringify({ workflowId, ...history }, null, 1));
  console.log(`recorded ${file} (${history.events.length} events)`);
}

/** Runs one canaryRollout of a fresh copy of `fixture` under load, with `during` acting on it, and saves its history. */
async function rollout(
  lab: Lab, name: string, fixture: string, rolloutInput: RolloutInput, expected: string,
  during: (h: WorkflowHandle<typeof canaryRollout>) => Promise<void> = async () => undefined, loadFromStart = true,
): Promise<void> {
  const version = await registerFixture(lab.mlflow.client, MODEL, 'recorded', fixture);
  const workflowId = `recorded-${name}`;
  const load = loadFromStart ? startLoad(lab.serviceUrl, lab.datasetUri, 25) : undefined;
  try {
    const handle = await lab.temporal.client.workflow.start(canaryRollout, {
      taskQueue: lab.taskQueue, workflowId, args: [{ modelName: MODEL, version, rollout: rolloutInput }],
    });
    await during(handle);
    const result = await handle.result();
    const path = `${result.outcome}: ${result.reason}`;
    if (!path.startsWith(expected)) throw new Error(`${name} took another path than "${expected}": ${path}`);
  } finally {
    await load?.stop();
  }
  await save(lab, workflowId, `${name}.json`);
}

async function waitFor(h: WorkflowHandle<typeof canaryRollout>, done: (s: Awaited<ReturnType<typeof queryState>>) => boolean): Promise<void> {
  for (const end = Date.now() + 60_000; Date.now() < end; await sleep(100)) if (done(await queryState(h))) return;
  throw new Error('the rollout never reached the awaited state');
}
const queryState = (h: WorkflowHandle<typeof canaryRollout>) => h.query(rolloutStateQuery).catch(() => undefined);

const canaryScenarios: Record<string, Scenario> = {
  approved: (lab) => rollout(lab, 'canary-rollout.approved', 'strips', { ...ROLLOUT, approval: 'required' }, 'promoted', async (h) => {
    await waitFor(h, (s) => s?.phase === 'awaiting_approval');
    await h.executeUpdate(approveUpdate, { args: [{ approved: true, by: 'recorder' }] });
  }),
  aborted: (lab) => rollout(lab, 'canary-rollout.aborted', 'strips', ROLLOUT, 'rolled_back: operator abort', async (h) => {
    await waitFor(h, (s) => s?.phase === 'shadow');
    await h.signal(abortSignal, 'operator abort');
  }),
  // Waits behind a rollout that holds the model's deployment lease (awaiting approval) until it is aborted.
  queued: async (lab) => {
    const holderVersion = await registerFixture(lab.mlflow.client, MODEL, 'recorded', 'strips');
    const holder = await lab.temporal.client.workflow.start(canaryRollout, {
      taskQueue: lab.taskQueue, workflowId: 'recorded-queue-holder', args: [{ modelName: MODEL, version: holderVersion, rollout: { ...ROLLOUT, approval: 'required' } }],
    });
    await waitFor(holder, (s) => s?.phase === 'awaiting_approval');
    await rollout(lab, 'canary-rollout.queued', 'strips', ROLLOUT, 'promoted', async (h) => {
      await waitFor(h, (s) => s?.phase === 'waiting_for_deployment');
      await sleep(6000); // one timed retry in the history, then the release's wake-up
      await holder.signal(abortSignal, 'make way');
    });
    await save(lab, holder.workflowId, 'canary-rollout.lease-holder-aborted.json');
  },
  'rolled-back': (lab) => rollout(lab, 'canary-rollout.rolled-back', 'fails-on-bright', ROLLOUT, 'rolled_back'),
  // A rollout of the version serving as stable (as the Temporal UI can start): it ends without loading anything.
  'already-serving': async (lab) => {
    const { stable } = await readDesiredState(lab.mlflow.client, MODEL);
    const workflowId = 'recorded-canary-rollout.already-serving';
    const result = await lab.temporal.client.workflow.execute(canaryRollout, {
      taskQueue: lab.taskQueue, workflowId, args: [{ modelName: MODEL, version: stable!.version, rollout: ROLLOUT }],
    });
    if (!result.reason.includes('already serves')) throw new Error(`already-serving took another path: ${result.outcome}: ${result.reason}`);
    await save(lab, workflowId, 'canary-rollout.already-serving.json');
  },
  // The break-glass (`ferops deploy --now`): straight into stable, no window.
  immediate: async (lab) => {
    const version = await registerFixture(lab.mlflow.client, MODEL, 'recorded', 'strips');
    const workflowId = 'recorded-canary-rollout.immediate';
    const result = await lab.temporal.client.workflow.execute(canaryRollout, {
      taskQueue: lab.taskQueue, workflowId, args: [{ modelName: MODEL, version, rollout: ROLLOUT, immediate: { by: 'recorder', reason: 'recorded' } }],
    });
    if (!result.reason.startsWith('deployed at once')) throw new Error(`immediate took another path: ${result.outcome}: ${result.reason}`);
    await save(lab, workflowId, 'canary-rollout.immediate.json');
  },
  // No traffic in the first window makes it inconclusive; load during the extension lets the longer window pass.
  extended: async (lab) => {
    let load: ReturnType<typeof startLoad> | undefined;
    try {
      await rollout(lab, 'canary-rollout.extended', 'strips', { ...ROLLOUT, shadowSeconds: 0, steps: [100], minRequests: 20, maxExtensions: 2 }, 'promoted', async (h) => {
        await waitFor(h, (s) => (s?.decisions.length ?? 0) >= 1);
        load = startLoad(lab.serviceUrl, lab.datasetUri, 25);
      }, false);
    } finally {
      await load?.stop();
    }
  },
};

/** driftMonitor with the real MLflow logging and a scripted drift check; its retraining child runs on fakes. */
function monitor(name: string, drifted: boolean): Scenario {
  return async (lab) => {
    const taskQueue = `${lab.taskQueue}-${name}`;
    const world = { calls: [], deployment: { canaryWeight: 0, shadow: false }, stats: healthyStats, accuracy: 0.1 };
    const activities = {
      ...fakeActivities(world),
      logDriftReport: (i: LogDriftInput) => logDriftReport(lab.mlflow.client, i),
      checkDrift: async () => scriptedDriftReport({ modelName: MODEL, championVersion: '1', datasetId: 'recorded', drifted }),
    };
    const worker = await lab.temporal.createWorker({ taskQueue, activities });
    const workflowId = `recorded-${name}`;
    await worker.runUntil(lab.temporal.client.workflow.execute(driftMonitor, { taskQueue, workflowId, args: [{ retrain: { trainingTaskQueue: taskQueue } }] }));
    await save(lab, workflowId, `${name}.json`);
  };
}

/** trainingPipeline on fakes, ending badly as `during` makes it: the pipeline's own failure path. */
function failingPipeline(name: string, world: Partial<FakeWorld>, during: (h: WorkflowHandle<typeof trainingPipeline>, w: FakeWorld) => Promise<void>): Scenario {
  return async (lab) => {
    const taskQueue = `${lab.taskQueue}-${name}`;
    const w: FakeWorld = { calls: [], deployment: { canaryWeight: 0, shadow: false }, stats: healthyStats, accuracy: 0.8, ...world };
    const worker = await lab.temporal.createWorker({ taskQueue, activities: fakeActivities(w) });
    const workflowId = `recorded-${name}`;
    await worker.runUntil(async () => {
      const handle = await lab.temporal.client.workflow.start(trainingPipeline, { taskQueue, workflowId, args: [{ trainingTaskQueue: taskQueue }] });
      await during(handle, w);
      if (await handle.result().then(() => true, () => false)) throw new Error(`${name} did not fail`);
    });
    await save(lab, workflowId, `${name}.json`);
  };
}

/** trainingPipeline on fakes, from ingest through its canary rollout to promotion. */
function promotedPipeline(name: string): Scenario {
  return async (lab) => {
    const taskQueue = `${lab.taskQueue}-${name}`;
    const stable = { version: '6', source: `models:/${MODEL}/6` };
    const w: FakeWorld = { calls: [], deployment: { stable, canaryWeight: 0, shadow: false }, stats: healthyStats, accuracy: 0.8 };
    const worker = await lab.temporal.createWorker({ taskQueue, activities: fakeActivities(w) });
    const workflowId = `recorded-${name}`;
    const rollout = { shadowSeconds: 1, windowSeconds: 1, steps: [10, 100], minRequests: 20, maxExtensions: 1 };
    const result = await worker.runUntil(lab.temporal.client.workflow.execute(trainingPipeline, { taskQueue, workflowId, args: [{ trainingTaskQueue: taskQueue, rollout }] }));
    if (result.outcome !== 'promoted') throw new Error(`${name} ended ${result.outcome}: ${result.reason}`);
    await save(lab, workflowId, `${name}.json`);
  };
}

const pipelineScenarios: Record<string, Scenario> = {
  'pipeline-promoted': promotedPipeline('training-pipeline.promoted'),
  'pipeline-train-failed': failingPipeline('training-pipeline.train-failed', { trainFailure: 'bad_input' }, async () => undefined),
  // Cancelled while ingest waits out an MLflow outage.
  'pipeline-cancelled': failingPipeline('training-pipeline.cancelled', { ingestOutages: 100 }, async (h, w) => {
    for (const end = Date.now() + 60_000; !w.calls.includes('ingest') && Date.now() < end; ) await sleep(100);
    await h.cancel();
  }),
};

const SCENARIOS: Record<string, Scenario> = {
  ...canaryScenarios,
  ...pipelineScenarios,
  'drift-retraining': monitor('drift-monitor.retraining-started', true),
  'drift-no-drift': monitor('drift-monitor.no-drift', false),
};

async function main(outDir: string, names: string[]): Promise<void> {
  const unknown = names.filter((n) => !SCENARIOS[n]);
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  const [mlflow, temporal] = await Promise.all([startMlflowFixture(), startTemporalTestEnv()]);
  const dataRoot = mkdtempSync(join(tmpdir(), 'ferops-record-'));
  try {
    const datasetUri = (await ingestDataset({ kind: 'synthetic', size: 400, seed: 5 }, { dataRoot })).uri;
    const stable = await registerFixture(mlflow.client, MODEL, 'recorded', 'strips');
    await desireStable(mlflow.server.url, MODEL, stable);
    await promoteChampion({ client: mlflow.client, name: MODEL, version: stable, reason: 'baseline' });
    const service = await startFollowingService(mlflow.server.url, MODEL);
    const taskQueue = `record-${Date.now()}`;
    const worker = await temporal.createWorker({ taskQueue, activities: createDeployActivities(fleetOf(service.url), mlflow.client, MODEL) });
    const lab: Lab = { temporal, mlflow, serviceUrl: service.url, datasetUri, taskQueue, outDir };
    try {
      await worker.runUntil(async () => {
        for (const n of names) await SCENARIOS[n](lab);
      });
    } finally {
      await service.stop();
    }
  } finally {
    await temporal.teardown();
    await mlflow.stop();
    rmSync(dataRoot, { recursive: true, force: true });
  }
}

const [outDir, ...names] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: record.ts <output dir> [scenario ...]');
  process.exit(2);
}
main(resolve(outDir), names.length ? names : Object.keys(SCENARIOS)).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
