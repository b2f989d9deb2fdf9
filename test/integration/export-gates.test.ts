import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { encodePng48 } from '../../lib/face-png';
import { MlflowClient } from '../../lib/mlflow';
import { TASK_QUEUE } from '../../lib/temporal-constants';
import { startStack, type Stack } from '../../infra/stack';
import { startOrAttach } from '../../services/cli/pipeline-runner';
import { smallPipeline, trainerEvents } from '../chaos/harness';

// The export gates on the real stack (Temporal, MLflow, worker, inference service, the Python trainer): an int8
// variant that misses its gate costs nothing but the int8 file, and a broken fp32 export fails at once.
let stack: Stack;
let client: Client;
let mlflow: MlflowClient;
let dataDir: string;
before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'ferops-export-'));
  stack = await startStack({ dataDir, ports: { temporal: 0, temporalUi: 0, mlflow: 0, inference: 0 }, ui: false, modelName: 'ferops-fer' });
  client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });
  mlflow = new MlflowClient({ baseUrl: stack.mlflowUrl });
}, { timeout: 300_000 });
after(async () => {
  await client?.connection.close();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const tagsOf = async (runId: string) => Object.fromEntries((await mlflow.getRun(runId)).data.tags!.map((t) => [t.key, t.value]));

describe('export gates in a real pipeline', { timeout: 600_000 }, () => {
  it('when int8 misses its gate, then the model registers, deploys and serves with fp32, and MLflow says why', async () => {
    // No confidence bound on a finite split reaches 1.0: int8 is withheld on any CPU and at any seed.
    const input = smallPipeline(31, 2, { trainer: { train: { epochs: 2, early_stop_patience: 0 }, export: { int8: true, int8_min_agreement: 1.0 } } });
    const { handle } = await startOrAttach(client, TASK_QUEUE, input, `int8-withheld-${randomUUID()}`);
    const result = await handle.result();
    assert.equal(result.outcome, 'promoted', result.reason);

    const tags = await tagsOf(result.mlflowRunId);
    assert.equal(tags['ferops.int8'], 'withheld');
    assert.match(tags['ferops.int8_withheld_reason'], /below export\.int8_min_agreement 100\.00%/);
    const [agreement] = await mlflow.getMetricHistory(result.mlflowRunId, 'int8_top1_agreement');
    assert.ok(agreement && agreement.value >= 0 && agreement.value <= 1, JSON.stringify(agreement));

    const registered = join(dataDir, 'registered');
    await mlflow.downloadModelVersion('ferops-fer', result.modelVersion!, registered);
    const files = readdirSync(registered);
    assert.ok(files.includes('model.onnx') && !files.includes('model.int8.onnx'), files.join(', '));

    const png = await encodePng48(new Uint8Array(48 * 48).fill(128));
    const res = await fetch(`${stack.inferenceUrl}/v1/predict?detect=false`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
    const body = (await res.json()) as { modelVersion: string; slot: string; faces: { label: string }[] };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual([body.modelVersion, body.slot, body.faces.length], [result.modelVersion, 'stable', 1]);
  });

  it('when the fp32 export is broken, then the train activity fails once, non-retryable, with the trainer message', async () => {
    const input = smallPipeline(32, 1, { trainer: { train: { epochs: 1, early_stop_patience: 0 }, export: { int8: false, parity_atol: 1e-12 } } });
    const { handle } = await startOrAttach(client, TASK_QUEUE, input, `broken-export-${randomUUID()}`);
    await assert.rejects(handle.result(), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError && e.cause instanceof ActivityFailure, String(e));
      assert.equal(e.cause.activityType, 'train');
      const failure = e.cause.cause;
      assert.ok(failure instanceof ApplicationFailure);
      assert.equal(failure.type, 'ParityFailed');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /fp32 ONNX logits differ from PyTorch by .* \(export\.parity_atol\)/);
      return true;
    });
    const starts = trainerEvents(dataDir, handle.workflowId).filter((e) => e.event === 'start');
    assert.equal(starts.length, 1, 'the trainer ran once');
    const { events } = await handle.fetchHistory();
    const scheduled = events!.flatMap((ev) => ev.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    const attempts = events!.flatMap((ev) => ev.activityTaskStartedEventAttributes?.attempt ?? []);
    assert.deepEqual(scheduled, ['ingest', 'train', 'closePipelineRun']);
    assert.deepEqual(attempts, [1, 1, 1], 'each started once');
    // The pipeline's MLflow run ends FAILED, with the trainer's message.
    const [run] = await mlflow.searchRuns({
      experimentIds: [(await mlflow.getExperimentByName('ferops'))!.experiment_id],
      filter: `tags.\`ferops.workflow_id\` = '${handle.workflowId}'`,
    });
    assert.equal(run.info.status, 'FAILED');
    assert.match((await tagsOf(run.info.run_id))['ferops.failure'], /fp32 ONNX logits differ from PyTorch by/);
  });
});
