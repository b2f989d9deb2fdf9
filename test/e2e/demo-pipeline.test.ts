import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { readSplit } from '../../lib/dataset';
import { MlflowClient } from '../../lib/mlflow';
import { REPO_ROOT } from '../../lib/paths';
import { freePort } from '../../infra/processes/managed-process';
import { startStack, type Stack } from '../../infra/stack';
import { encodePng48 } from '../../lib/face-png';

// The whole product, as a user meets it: `npm run demo -- --once` on a fresh data dir, then the stack started
// again on the same dir (as after Ctrl-C), checked through its three surfaces: Temporal, MLflow, the REST API.
let dataDir: string;
let env: NodeJS.ProcessEnv;
let firstRun: { code: number | null; output: string };

function demo(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services/cli/main.ts'), 'demo', '--once'], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    child.on('close', (code) => resolve({ code, output }));
  });
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'ferops-e2e-'));
  const [t, ui, m, i] = [await freePort(), await freePort(), await freePort(), await freePort()];
  env = {
    FEROPS_DATA_DIR: dataDir,
    FEROPS_TEMPORAL_ADDRESS: `127.0.0.1:${t}`,
    FEROPS_TEMPORAL_UI_PORT: String(ui),
    FEROPS_MLFLOW_URL: `http://127.0.0.1:${m}`,
    FEROPS_INFERENCE_URL: `http://127.0.0.1:${i}`,
    // The drift schedule has its own tests; here it must not start a third pipeline mid-demo.
    FEROPS_DRIFT_INTERVAL: '1h',
  };
  firstRun = await demo();
}, { timeout: 900_000 });

after(() => rmSync(dataDir, { recursive: true, force: true }));

describe('npm run demo -- --once', { timeout: 900_000 }, () => {
  it('when run on a fresh data dir, then the baseline serves, a challenger goes through a canary under load, and a real photo is classified', () => {
    assert.equal(firstRun.code, 0, outcomeLines(firstRun.output));
    assert.match(firstRun.output, /baseline: started pipeline train-ferops-fer-/);
    assert.match(firstRun.output, /epoch \d+\/\d+ +loss/, 'live progress shows epoch and loss');
    assert.match(firstRun.output, /baseline: pipeline promoted: first model/);
    // The challenger (same data, longer training) must clear the registration gate and go through every canary
    // window under load at any seed (FEROPS_SEED): a demo that skips its rollout shows nothing of it.
    const challenger = /challenger: pipeline (\w+):/.exec(firstRun.output);
    assert.equal(challenger?.[1], 'promoted', outcomeLines(firstRun.output));
    const load = /challenger: load during the rollout: (\d+) requests, (\d+) answered, (\d+) failed/.exec(firstRun.output);
    assert.ok(load && Number(load[1]) > 50, 'the canary was analysed on real traffic');
    assert.equal(load[3], '0', 'no client request failed during the rollout');
    for (const window of ['shadow 0%', 'traffic 5%', 'traffic 25%', 'traffic 50%', 'traffic 100%']) {
      assert.match(firstRun.output, new RegExp(`canary ${window} \\(window \\d+\\): pass`), window);
    }
    assert.match(firstRun.output, /face\(s\), model v2/);
  });

  describe('when the stack starts again on the same data dir', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ dataDir, ports: { temporal: Number(env.FEROPS_TEMPORAL_ADDRESS!.split(':')[1]), temporalUi: 0, mlflow: Number(new URL(env.FEROPS_MLFLOW_URL!).port), inference: Number(new URL(env.FEROPS_INFERENCE_URL!).port) }, ui: false, modelName: 'ferops-fer', env: { FEROPS_DRIFT_INTERVAL: '1h' } });
    }, { timeout: 300_000 });
    after(async () => stack?.stop());

    it('then Temporal still holds the completed pipeline with all five stages', async () => {
      const client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });
      const pipelines = await collect(client.workflow.list({ query: `WorkflowType = 'trainingPipeline'` }));
      assert.equal(pipelines.length, 2, 'baseline and challenger');
      assert.ok(pipelines.every((p) => p.status.name === 'COMPLETED'));
      const pipeline = pipelines.find((p) => p.searchAttributes.FeropsModelVersion?.[0] === '1')!;
      const history = await client.workflow.getHandle(pipeline.workflowId).fetchHistory();
      const activities = history.events!.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
      assert.deepEqual(activities, ['ingest', 'train', 'evaluate', 'register']);
      const child = history.events!.find((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
      assert.equal(child?.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name, 'canaryRollout');
      const result = await client.workflow.getHandle(pipeline.workflowId).result();
      assert.equal(result.outcome, 'promoted');
      assert.deepEqual(pipeline.searchAttributes.FeropsModelVersion, ['1']);
      await client.connection.close();
    });

    it('then MLflow holds the run with params, one point per epoch, and the registered champion', async () => {
      const mlflow = new MlflowClient({ baseUrl: stack.mlflowUrl });
      const champion = await mlflow.getModelVersionByAlias('ferops-fer', 'champion');
      assert.equal(champion?.version, '2', 'the challenger is champion');
      const run = await mlflow.getRun(champion!.run_id!);
      const params = Object.fromEntries((run.data.params ?? []).map((p) => [p.key, p.value]));
      assert.equal(params['trainer.model.base'], 'tiny');
      assert.ok(params['dataset.id']);
      const history = await mlflow.getMetricHistory(run.info.run_id, 'val_accuracy');
      const steps = history.map((m) => m.step);
      assert.ok(steps.length >= 2, 'several epochs');
      assert.equal(new Set(steps).size, steps.length, 'no duplicated metric points');
      assert.ok((run.data.metrics ?? []).some((m) => m.key === 'test_accuracy'));
      const tags = Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
      for (const key of ['ferops.workflow_id', 'ferops.temporal_ui', 'mlflow.source.git.commit', 'ferops.dataset_hash', 'ferops.trainer_version']) assert.ok(tags[key], `tag ${key}`);
      const files = (await mlflow.listArtifacts(run.info.artifact_uri)).map((f) => f.path);
      for (const f of ['dataset/manifest.json', 'dataset/samples.png', 'evaluation/confusion.png', 'evaluation/confusion.json', 'training/curves.png']) {
        assert.ok(files.some((p) => p.endsWith(f)), `artifact ${f} in ${files.join(', ')}`);
      }
    });

    it('then the inference service answers with the champion, restored after the restart', async () => {
      // Lineage: champion version -> MLflow run -> the dataset version it was trained on.
      const mlflow = new MlflowClient({ baseUrl: stack.mlflowUrl });
      const run = await mlflow.getRun((await mlflow.getModelVersionByAlias('ferops-fer', 'champion'))!.run_id!);
      const datasetUri = run.data.tags?.find((t) => t.key === 'ferops.dataset_uri')?.value;
      assert.ok(datasetUri, 'the run names its dataset');
      const test = readSplit(datasetUri, 'test');
      const res = await fetch(`${stack.inferenceUrl}/v1/predict?detect=false`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: await encodePng48(test.images.subarray(0, 48 * 48)) });
      assert.equal(res.status, 200);
      const champion = await mlflow.getModelVersionByAlias('ferops-fer', 'champion');
      assert.equal(res.headers.get('x-model-version'), champion!.version);
      const body = (await res.json()) as { faces: { label: string }[] };
      assert.equal(body.faces.length, 1);
    });
  });

  it('when the demo runs again on the same data dir, then it attaches to the finished pipeline and exits 0', async () => {
    const again = await demo();
    assert.equal(again.code, 0, again.output.slice(-3000));
    assert.match(again.output, /baseline: attached to pipeline train-ferops-fer-/);
    assert.match(again.output, /challenger: attached to pipeline train-ferops-fer-/);
  });
});

/**
 * What a failure message needs first: each pipeline's outcome and reason, the load, and every canary decision with its
 * numbers, then the output's tail. CI logs keep only part of a long message, and the decisive lines come first there.
 */
function outcomeLines(output: string): string {
  const decisive = output.split('\n').filter((l) => /^(baseline|challenger): |^ {2}canary /.test(l));
  return [...decisive, '--- output tail ---', output.slice(-1500)].join('\n');
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
