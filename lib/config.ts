import { z } from 'zod';
import { dataDirFrom, SHARED_DEFAULTS, sharedRules } from './config-keys';
import { TASK_QUEUE, TRAINING_TASK_QUEUE } from './temporal-constants';

/**
 * The one validated configuration of the embedded stack, worker and CLI, read from environment variables.
 * Every key has a default that works on a fresh machine without a GPU. The inference service adds its own
 * keys in services/inference/config.ts.
 */
export const CONFIG_KEYS = {
  FEROPS_DATA_DIR: { default: SHARED_DEFAULTS.FEROPS_DATA_DIR, doc: 'State of the embedded stack: Temporal DB, MLflow DB and artifacts, datasets, runs.' },
  FEROPS_TEMPORAL_ADDRESS: { default: '127.0.0.1:7233', doc: 'Temporal frontend gRPC address.' },
  FEROPS_TEMPORAL_UI_PORT: { default: '8233', doc: 'Temporal Web UI port (embedded dev server).' },
  FEROPS_TEMPORAL_NAMESPACE: { default: 'default', doc: 'Temporal namespace.' },
  FEROPS_TEMPORAL_UI_URL: { default: '', doc: 'Temporal Web UI with its namespace, linked from every pipeline run in MLflow; empty = http://127.0.0.1:<FEROPS_TEMPORAL_UI_PORT>/namespaces/<FEROPS_TEMPORAL_NAMESPACE>.' },
  FEROPS_TEMPORAL_TLS_CERT: { default: '', doc: 'PEM client certificate for mTLS to Temporal (worker and CLI); with FEROPS_TEMPORAL_TLS_KEY.' },
  FEROPS_TEMPORAL_TLS_KEY: { default: '', doc: 'PEM private key of that client certificate.' },
  FEROPS_TEMPORAL_TLS_CA: { default: '', doc: "PEM CA that signed the Temporal frontend's certificate (else the system roots)." },
  FEROPS_TEMPORAL_TLS_SERVER_NAME: { default: '', doc: "Name to verify the frontend's certificate against, when it differs from the address's host." },
  FEROPS_TASK_QUEUE: { default: TASK_QUEUE, doc: 'Task queue of the pipeline workflows and light activities.' },
  FEROPS_TRAINING_TASK_QUEUE: { default: TRAINING_TASK_QUEUE, doc: 'Task queue of the train activity (GPU hosts serve it).' },
  FEROPS_WORKER_TASK_QUEUES: { default: '', doc: 'Comma-separated task queues this worker serves; empty = both (pipeline and training). A GPU host sets only the training queue.' },
  FEROPS_MLFLOW_URL: { default: SHARED_DEFAULTS.FEROPS_MLFLOW_URL, doc: 'MLflow tracking server (REST + artifact proxy).' },
  FEROPS_MLFLOW_EXPERIMENT: { default: 'ferops', doc: 'MLflow experiment that pipeline runs are logged to.' },
  FEROPS_INFERENCE_URL: { default: 'http://127.0.0.1:8080', doc: 'Inference service base URL the deploy activities call.' },
  FEROPS_INFERENCE_ADMIN_URL: { default: '', doc: "Where the service's admin API answers when it runs on its own port (FEROPS_ADMIN_PORT); empty = FEROPS_INFERENCE_URL." },
  FEROPS_INFERENCE_DISCOVERY: { default: '', doc: 'Where the deploy and monitor activities find every inference replica\'s admin API: `dns:<host>:<port>` (every address of the name), `file:<path>` (one URL per line, re-read) or a comma-separated list; empty = FEROPS_INFERENCE_ADMIN_URL alone. Replicas read it too, to pass on feedback for a prediction another replica made.' },
  FEROPS_ADMIN_TOKEN: { default: '', doc: 'Bearer token of the inference admin API, at least 16 characters; the embedded stack generates one into the data dir. Empty = none (the deploy activities are refused).' },
  FEROPS_MODEL_NAME: { default: SHARED_DEFAULTS.FEROPS_MODEL_NAME, doc: 'Registered model name in MLflow.' },
  FEROPS_KAGGLE_API_BASE: { default: 'https://www.kaggle.com/api/v1', doc: "Kaggle API the ingest activity downloads from, with the worker's Kaggle credentials; never taken from workflow input." },
  FEROPS_TRAIN_STALL_SECONDS: { default: '900', doc: 'A trainer that reports nothing (no event, not even its keep-alive) for this long is taken as hung: it is killed and the attempt retried from its last checkpoint. Above the longest single step of the trainer (a training step, an ONNX export stage, a pretrained download).' },
  FEROPS_TRAIN_NPROC: { default: '', doc: "Processes per training on this worker's host (one per GPU; above 1 the trainer runs under torchrun with DDP); empty = the trainer config's nproc (default 1)." },
  FEROPS_SEED: { default: '', doc: "Offset added to the seeds of the demo's synthetic data and trainings (and of the trainer tests), to check them at other seeds; empty or 0 = the defaults." },
} as const;

export type ConfigKey = keyof typeof CONFIG_KEYS;

const schema = z.object({
  dataDir: z.string().min(1),
  temporalAddress: z.string().regex(/^[^:\s]+:\d{1,5}$/, 'host:port'),
  temporalUiPort: z.coerce.number().int().min(1).max(65535),
  temporalNamespace: z.string().min(1),
  temporalUiUrl: sharedRules.temporalUiUrl.unwrap(),
  temporalTlsCert: z.string(),
  temporalTlsKey: z.string(),
  temporalTlsCa: z.string(),
  temporalTlsServerName: z.string(),
  taskQueue: z.string().min(1),
  trainingTaskQueue: z.string().min(1),
  workerTaskQueues: z.array(z.string().min(1)),
  mlflowUrl: sharedRules.mlflowUrl,
  mlflowExperiment: z.string().min(1),
  inferenceUrl: z.string().url(),
  inferenceAdminUrl: z.string().url(),
  inferenceDiscovery: sharedRules.inferenceDiscovery,
  adminToken: sharedRules.adminToken,
  modelName: sharedRules.modelName,
  kaggleApiBase: z.string().url().regex(/^https?:\/\//, 'an http(s) URL'),
  trainNproc: z.coerce.number().int().min(1).max(64).optional(),
  trainStallSeconds: z.coerce.number().int().min(10).max(7 * 24 * 3600),
  seed: z.coerce.number().int().min(0).max(0xffffffff).optional(),
});
export type FeropsConfig = z.infer<typeof schema>;

/** A key's value, its default when unset or '' (as the inference service reads it: lib/config-keys.ts). */
const get = (env: NodeJS.ProcessEnv, key: ConfigKey): string => env[key] || CONFIG_KEYS[key].default;

/** Validates the environment once at start-up; a bad value fails fast with the key named. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): FeropsConfig {
  const parsed = schema.safeParse({
    dataDir: dataDirFrom(env),
    temporalAddress: get(env, 'FEROPS_TEMPORAL_ADDRESS'),
    temporalUiPort: get(env, 'FEROPS_TEMPORAL_UI_PORT'),
    temporalNamespace: get(env, 'FEROPS_TEMPORAL_NAMESPACE'),
    temporalUiUrl: get(env, 'FEROPS_TEMPORAL_UI_URL') || `http://127.0.0.1:${get(env, 'FEROPS_TEMPORAL_UI_PORT')}/namespaces/${get(env, 'FEROPS_TEMPORAL_NAMESPACE')}`,
    temporalTlsCert: get(env, 'FEROPS_TEMPORAL_TLS_CERT'),
    temporalTlsKey: get(env, 'FEROPS_TEMPORAL_TLS_KEY'),
    temporalTlsCa: get(env, 'FEROPS_TEMPORAL_TLS_CA'),
    temporalTlsServerName: get(env, 'FEROPS_TEMPORAL_TLS_SERVER_NAME'),
    taskQueue: get(env, 'FEROPS_TASK_QUEUE'),
    trainingTaskQueue: get(env, 'FEROPS_TRAINING_TASK_QUEUE'),
    workerTaskQueues: get(env, 'FEROPS_WORKER_TASK_QUEUES').split(',').map((q) => q.trim()).filter(Boolean),
    mlflowUrl: get(env, 'FEROPS_MLFLOW_URL'),
    mlflowExperiment: get(env, 'FEROPS_MLFLOW_EXPERIMENT'),
    inferenceUrl: get(env, 'FEROPS_INFERENCE_URL'),
    inferenceAdminUrl: get(env, 'FEROPS_INFERENCE_ADMIN_URL') || get(env, 'FEROPS_INFERENCE_URL'),
    inferenceDiscovery: get(env, 'FEROPS_INFERENCE_DISCOVERY') || get(env, 'FEROPS_INFERENCE_ADMIN_URL') || get(env, 'FEROPS_INFERENCE_URL'),
    adminToken: get(env, 'FEROPS_ADMIN_TOKEN') || undefined,
    modelName: get(env, 'FEROPS_MODEL_NAME'),
    kaggleApiBase: get(env, 'FEROPS_KAGGLE_API_BASE'),
    trainNproc: get(env, 'FEROPS_TRAIN_NPROC') || undefined,
    trainStallSeconds: get(env, 'FEROPS_TRAIN_STALL_SECONDS'),
    seed: get(env, 'FEROPS_SEED') || undefined,
  });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid ferops configuration: ${issues}`);
  }
  return parsed.data;
}

/** A workflow's page in the Temporal Web UI, from FEROPS_TEMPORAL_UI_URL (a trailing slash or not). */
export const workflowUiUrl = (temporalUiUrl: string, workflowId: string): string =>
  `${temporalUiUrl.replace(/\/+$/, '')}/workflows/${encodeURIComponent(workflowId)}`;
