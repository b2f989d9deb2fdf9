import { resolve } from 'node:path';
import { z } from 'zod';
import { discovery } from './inference-admin/discovery';
import { REPO_ROOT } from './paths';

/**
 * Keys that both the worker/CLI configuration (lib/config.ts) and the inference service's
 * (services/inference/config.ts) read: one default and one rule each, so that a value one side accepts the other
 * accepts too. In both, a key set to '' counts as unset.
 */
export const SHARED_DEFAULTS = {
  FEROPS_DATA_DIR: '.data',
  FEROPS_MLFLOW_URL: 'http://127.0.0.1:5000',
  FEROPS_MODEL_NAME: 'ferops-fer',
} as const;

/** The data directory; a relative FEROPS_DATA_DIR is taken from the repository root, whatever the working directory. */
export const dataDirFrom = (env: NodeJS.ProcessEnv): string => resolve(REPO_ROOT, env.FEROPS_DATA_DIR || SHARED_DEFAULTS.FEROPS_DATA_DIR);

export const sharedRules = {
  /** FEROPS_MLFLOW_URL: the MLflow tracking server and registry. */
  mlflowUrl: z.string().url().default(SHARED_DEFAULTS.FEROPS_MLFLOW_URL),
  /** FEROPS_MODEL_NAME: the registered model; MLflow puts it in URLs, hence the narrow alphabet. */
  modelName: z.string().regex(/^[\w.-]+$/, 'letters, digits, _ . -').default(SHARED_DEFAULTS.FEROPS_MODEL_NAME),
  /** FEROPS_ADMIN_TOKEN: bearer token of the admin API; unset means the service's admin API is off (503). */
  adminToken: z.string().min(16, 'FEROPS_ADMIN_TOKEN must be at least 16 characters').optional(),
  /**
   * FEROPS_INFERENCE_DISCOVERY: every replica's admin API (`dns:<host>:<port>`, `file:<path>` or a list of URLs);
   * the deploy and monitor activities call each, and each replica asks the others for feedback it did not answer.
   */
  inferenceDiscovery: z.string().min(1).superRefine((spec, zctx) => {
    try {
      discovery(spec);
    } catch (e) {
      zctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
    }
  }),
  /** FEROPS_TEMPORAL_UI_URL: the Temporal Web UI with its namespace, e.g. http://127.0.0.1:8233/namespaces/default. */
  temporalUiUrl: z.string().url().optional(),
};
