/**
 * Checks each workflow's input before anything runs: a pipeline's filled-in input (lib/pipeline-input.ts), a canary
 * rollout's, a drift monitor's. Any client, the Temporal UI included, can start them with any JSON, and a pipeline
 * reads its rollout settings only after training: a string where the steps belong made the rollout's workflow task
 * fail again and again (the rollout hung with the canary loaded), and a negative maxExtensions gave each phase no
 * look at all, so the candidate was promoted unanalysed. Pure (zod only): workflow code imports it. The dataset and
 * the trainer's config are checked by the ingest activity and the trainer, which own their schemas.
 */
import { z } from 'zod';
import { MAX_WINDOW_SECONDS } from './inference-admin/wire';
import { DEFAULT_PIPELINE_INPUT, type DatasetSource, type PipelineInput, type PipelineInputOverrides, type RolloutInput, withDefaults } from './pipeline-input';

const fraction = z.number().min(0).max(1);
const seconds = z.number().int().min(0).max(MAX_WINDOW_SECONDS);

const rolloutInputSchema = z
  .object({
    steps: z.array(z.number().int().min(1).max(100)).min(1),
    shadowSeconds: seconds,
    windowSeconds: seconds.min(1),
    minRequests: z.number().int().min(1),
    maxExtensions: z.number().int().min(0).max(100),
    approval: z.enum(['none', 'required']),
    approvalTimeoutSeconds: z.number().int().min(1),
    thresholds: z
      .object({
        falseRollbackRate: z.number().gt(0).lt(1).optional(),
        maxErrorRateIncrease: fraction,
        maxLatencyRatio: z.number().gt(0).finite(),
        minShadowKappa: z.number().min(-1).max(1),
        minShadowAgreement: fraction,
        maxClassDivergence: fraction,
        minConfidenceRatio: z.number().min(0).finite(),
      })
      .strict(),
  })
  .strict()
  // A phase's last look counts its whole window and extensions: longer than the service reports, every look fails.
  .refine((r) => Math.max(r.shadowSeconds, r.windowSeconds) * (r.maxExtensions + 1) <= MAX_WINDOW_SECONDS, {
    message: `a phase with its extensions, max(shadowSeconds, windowSeconds) x (maxExtensions + 1), must fit in the ${MAX_WINDOW_SECONDS} s the service reports`,
  }) satisfies z.ZodType<RolloutInput>;

const pipelineInputSchema = z
  .object({
    modelName: z.string().min(1),
    trainingTaskQueue: z.string().min(1),
    dataset: z.custom<DatasetSource>((v) => typeof v === 'object' && v !== null && typeof (v as { kind?: unknown }).kind === 'string', 'expected an object with a kind'),
    trainer: z.record(z.unknown()),
    gate: z.object({ minAccuracy: fraction, maxDropVsChampion: fraction }).strict(),
    rollout: rolloutInputSchema,
  })
  .strict() satisfies z.ZodType<PipelineInput>;

/** The overrides' own keys: withDefaults would drop a misspelt one, leaving its default in force unnoticed. */
const overrideKeys = z.object(Object.fromEntries(Object.keys(DEFAULT_PIPELINE_INPUT).map((k) => [k, z.unknown()]))).strict();

/** The caller's overrides filled in with the defaults, or what is wrong with them (one clause per problem). */
export function checkPipelineInput(overrides: unknown): { input: PipelineInput; problems?: undefined } | { problems: string } {
  if (overrides === undefined) overrides = {};
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) return { problems: `expected an object of overrides, got ${JSON.stringify(overrides)}` };
  const misspelt = problems(overrideKeys, overrides);
  if (misspelt) return { problems: misspelt };
  const input = withDefaults(overrides as PipelineInputOverrides);
  const found = problems(pipelineInputSchema, input);
  return found ? { problems: found } : { input };
}

const rolloutWorkflowInputSchema = z.object({
  modelName: z.string().min(1),
  version: z.string().min(1),
  rollout: rolloutInputSchema,
  immediate: z.object({ by: z.string().min(1), reason: z.string().min(1) }).strict().optional(),
}).strict();

/** What is wrong with a canaryRollout's input (one started by hand, from the Temporal UI); undefined when nothing is. */
export const rolloutWorkflowInputProblems = (input: unknown): string | undefined => problems(rolloutWorkflowInputSchema, input);

function problems(schema: z.ZodTypeAny, input: unknown): string | undefined {
  const parsed = schema.safeParse(input);
  if (parsed.success) return undefined;
  return parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

const driftMonitorInputSchema = z
  .object({
    windowSeconds: seconds.min(1).optional(),
    psiThreshold: z.number().gt(0).finite().optional(),
    minSamples: z.number().int().min(1).optional(),
    retrain: z.record(z.unknown()).optional(),
  })
  .strict();

/**
 * What is wrong with a drift monitor's input (a schedule's or a hand-started run's), its retraining overrides
 * included, so that a mistake shows on the first run and not at the first drift; undefined when nothing is.
 */
export function driftMonitorInputProblems(input: unknown): string | undefined {
  const found = problems(driftMonitorInputSchema, input ?? {});
  if (found) return found;
  const retrain = (input as { retrain?: unknown } | undefined)?.retrain;
  const inRetrain = retrain === undefined ? undefined : checkPipelineInput(retrain).problems;
  return inRetrain && `retrain: ${inRetrain}`;
}
