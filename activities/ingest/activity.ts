import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ensurePipelineRun, runArtifactUri, type PipelineRunContext } from '../pipeline/pipeline-run';
import { DATASET_HASH_TAG } from '../tracking';
import type { IngestInput, IngestOutput } from '../types';
import { IngestError } from './errors';
import { ingestDataset } from './ingest-dataset';

/**
 * ingest: the dataset version (content-addressed, so a retry is free), recorded on the pipeline's MLflow run.
 * Endpoints come from the worker's configuration; the workflow input only names the dataset.
 */
export function createIngestActivity(run: PipelineRunContext, dataDir: string, endpoints: { kaggleApiBase: string }) {
  return async function ingest(input: IngestInput): Promise<IngestOutput> {
    const ctx = Context.current();
    let result;
    try {
      result = await ingestDataset(input.source, {
        dataRoot: dataDir,
        kaggleApiBase: endpoints.kaggleApiBase,
        onProgress: (p) => ctx.heartbeat(p),
        signal: ctx.cancellationSignal,
      });
    } catch (e) {
      if (e instanceof IngestError && e.nonRetryable) throw ApplicationFailure.nonRetryable(`${e.code}: ${e.message}`, 'BadInput');
      throw e;
    }
    const m = result.manifest;
    const runId = await ensurePipelineRun(run, input.workflowId);
    const { mlflow } = run;
    await mlflow.setTags(runId, { [DATASET_HASH_TAG]: result.datasetId, 'ferops.dataset_uri': result.uri });
    await mlflow.logParams(runId, {
      'dataset.id': result.datasetId,
      'dataset.source': input.source.kind,
      'dataset.train': m.splits.train,
      'dataset.val': m.splits.val,
      'dataset.test': m.splits.test,
      'dataset.rejected': m.rejected.total,
    });
    await mlflow.logInputs(runId, [{
      dataset: {
        name: `fer-${result.datasetId}`,
        digest: result.datasetId,
        source_type: 'local',
        source: JSON.stringify({ uri: result.uri }),
        profile: JSON.stringify({ splits: m.splits, classCounts: m.classCounts, pixelStats: m.pixelStats }),
      },
      tags: [{ key: 'mlflow.data.context', value: 'training' }],
    }]);
    for (const f of ['manifest.json', 'samples.png']) await mlflow.uploadFile(await runArtifactUri(run, runId), join(result.uri, f), `dataset/${f}`);
    return { datasetId: result.datasetId, uri: result.uri, splits: m.splits, rejected: m.rejected.total, reused: result.reused, mlflowRunId: runId };
  };
}
