import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '@temporalio/activity';
import { cachedRegistryVersion, pruneRegistryCache } from '../../lib/onnx/registry-cache';
import { runArtifactUri, type PipelineRunContext } from '../pipeline/pipeline-run';
import { CHAMPION } from '../register/promote';
import { logMetricsOnce } from '../tracking';
import { safeName } from '../train';
import type { EvaluateInput, EvaluateOutput, ModelScore } from '../types';
import { evaluateModel, type ModelEvaluation } from './evaluate-model';

/** evaluate: the candidate and the current champion on the same test split, run exactly as the service runs them. */
export function createEvaluateActivity(run: PipelineRunContext, dirs: { runsDir: string; modelCacheDir: string }) {
  return async function evaluate(input: EvaluateInput): Promise<EvaluateOutput> {
    const { mlflow } = run;
    const champion = await mlflow.getModelVersionByAlias(input.modelName, CHAMPION);
    // Fetched as the service fetches it (checksum verified, same cache), so the champion measured is the one served.
    const championModelDir = champion ? await cachedRegistryVersion(mlflow, dirs.modelCacheDir, champion) : undefined;
    await dropUnusedVersions(dirs.modelCacheDir, championModelDir);
    const outDir = join(dirs.runsDir, safeName(input.workflowId), 'evaluate');
    const report = await evaluateModel({ modelDir: input.modelDir, datasetUri: input.datasetUri, championModelDir, outDir });
    await logMetricsOnce(mlflow, input.mlflowRunId, [
      { key: 'test_accuracy', value: report.accuracy },
      { key: 'test_macro_f1', value: report.macroF1 },
      { key: 'test_ece', value: report.ece },
      { key: 'latency_p50_ms', value: report.latencyMs.p50 },
      { key: 'latency_p99_ms', value: report.latencyMs.p99 },
      ...(report.champion ? [{ key: 'champion_test_accuracy', value: report.champion.accuracy }] : []),
    ]);
    const artifactUri = await runArtifactUri(run, input.mlflowRunId);
    for (const f of readdirSync(outDir)) await mlflow.uploadFile(artifactUri, join(outDir, f), `evaluation/${f}`);
    return {
      ...score(report),
      ...(report.champion && champion ? { champion: { ...score(report.champion), version: champion.version } } : {}),
    };
  };
}

/** An evaluation reads its champion for minutes: a version no evaluation fetched for this long is not being read. */
const UNUSED_VERSION_MS = 24 * 3600_000;

/**
 * Keeps the worker's cache from gaining a version per champion for ever. Several workers may share the cache (one
 * data volume), so only versions none of them used for a day go; a failure is only logged.
 */
async function dropUnusedVersions(cacheDir: string, champion: string | undefined): Promise<void> {
  try {
    const removed = await pruneRegistryCache(cacheDir, champion ? [champion] : [], { unusedForMs: UNUSED_VERSION_MS });
    if (removed.length) log.info('evaluate cache: removed versions unused for a day', { removed });
  } catch (err) {
    log.warn('evaluate cache: pruning failed', { error: (err as Error).message });
  }
}

const score = (e: ModelEvaluation): ModelScore => ({
  accuracy: e.accuracy, count: e.count, macroF1: e.macroF1, ece: e.ece, latencyP50Ms: e.latencyMs.p50, latencyP99Ms: e.latencyMs.p99,
});
