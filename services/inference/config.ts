import { existsSync, readdirSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { dataDirFrom, sharedRules } from '../../lib/config-keys';
import { venvDir } from '../../lib/paths';
import { DETECTOR_NAMES, defaultDetectorModel, defaultMinFaceScore } from './runtime/detectors';

/**
 * The one configuration schema of the inference service. Every key is read from `process.env`, has a documented
 * default and is validated at start-up, so a typo fails fast instead of surfacing on the first request.
 */

/** Haar cascades ship inside opencv-python-headless; the Python minor version is not fixed, hence the glob. */
export function defaultCascadeDir(): string {
  const lib = join(venvDir(), 'lib');
  const pythons = existsSync(lib) ? readdirSync(lib).filter((d) => /^python3\.\d+$/.test(d)).sort() : [];
  return join(lib, pythons.at(-1) ?? 'python3.11', 'site-packages', 'cv2', 'data');
}

/**
 * Leave one core to the event loop, libvips and onnxruntime; more than 4 detection threads rarely pays. At least 2:
 * a photo's small-face search then runs its P-Net beside the detector, and two workers answered more photos under
 * load than one on 2 cores, search or not (docs/inference.md#face-workers).
 */
const defaultWorkerCount = (): number => Math.max(2, Math.min(4, availableParallelism() - 1));

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

/** The small-face search's smallest face, FEROPS_DETECT_MIN_FACE's and a request's `?minFace=`: 0 (none) or P-Net's window up. */
export const MIN_FACE = { window: 12, max: 4096 } as const;
export const isMinFace = (v: number) => Number.isInteger(v) && (v === 0 || (v >= MIN_FACE.window && v <= MIN_FACE.max));
/** A comma-separated list of angles in [-limit, limit] degrees (or an array), at least `minLength` long. */
const angleList = (fallback: string, limit: number, minLength = 0) =>
  z
    .union([z.string(), z.array(z.number())])
    .default(fallback)
    .transform((v, zctx) => {
      const list = Array.isArray(v) ? v : v.trim() === '' ? [] : v.split(',').map((x) => Number(x.trim()));
      if (list.length < minLength || list.some((a) => !Number.isFinite(a) || Math.abs(a) > limit)) {
        zctx.addIssue({ code: 'custom', message: `a comma-separated list of angles in [-${limit}, ${limit}]${minLength ? '' : ', or empty'}` });
      }
      return list;
    });

const flag = () =>
  z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
    .default(false)
    .transform((v) => v === true || v === 'true' || v === '1');

/** `1.2.3.4`, `10.0.0.0/8`, `::1` or `fd00::/8`: what FEROPS_TRUSTED_PROXIES lists. */
export function isAddressOrCidr(entry: string): boolean {
  const [address, prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** The keys; defaults that depend on FEROPS_DATA_DIR read it from `env`. */
const configKeys = (env: NodeJS.ProcessEnv) => z.object({
  /** FEROPS_INFERENCE_HOST [127.0.0.1]: interface to bind. */
  host: z.string().min(1).default('127.0.0.1'),
  /** FEROPS_INFERENCE_PORT [8080]: TCP port; 0 picks a free one (tests). */
  port: int(0, 65535).default(8080),
  /**
   * FEROPS_ADMIN_PORT [unset]: serve the admin API (/admin/v1) on this port alone (0 picks a free one), so that a
   * network rule can admit only the pipeline worker to it; the public port then answers 404 for /admin.
   */
  adminPort: int(0, 65535).optional(),
  /** FEROPS_ADMIN_HOST [FEROPS_INFERENCE_HOST]: interface the admin port binds. */
  adminHost: z.string().min(1).optional(),
  /** FEROPS_ADMIN_TOKEN [none]: bearer token of the admin API; without it the admin API answers 503. */
  adminToken: sharedRules.adminToken,
  /** FEROPS_MLFLOW_URL [http://127.0.0.1:5000]: registry used for `models:/` sources. */
  mlflowUrl: sharedRules.mlflowUrl,
  /** FEROPS_MODEL_CACHE_DIR [<data dir>/model-cache]: where registry models are downloaded. */
  modelCacheDir: z.string().min(1).default(() => join(dataDirFrom(env), 'model-cache')),
  /** FEROPS_MODEL_DIRS [<data dir>]: colon-separated roots from which local model dirs may be loaded. */
  modelDirs: z
    .union([z.string(), z.array(z.string())])
    .default(() => dataDirFrom(env))
    .transform((v) => (Array.isArray(v) ? v : v.split(':')).filter(Boolean).map((d) => resolve(d))),
  /** FEROPS_STABLE_MODEL [none]: model dir or `models:/` URI loaded into the stable slot at start. */
  stableModel: z.string().min(1).optional(),
  /**
   * FEROPS_DESIRED_STATE [off]: `mlflow` makes this replica follow the fleet's desired deployment (the registry tag
   * of FEROPS_MODEL_NAME, lib/inference-admin/desired-state.ts) instead of taking slot changes by admin calls.
   */
  desiredState: z.enum(['off', 'mlflow']).default('off'),
  /** FEROPS_MODEL_NAME [ferops-fer]: the registered model whose desired state a following replica serves. */
  modelName: sharedRules.modelName,
  /** FEROPS_DESIRED_STATE_POLL_MS [2000]: how often a following replica reads the desired state (bounds convergence). */
  desiredStatePollMs: int(100, 600_000).default(2000),
  /** FEROPS_REPLICA_ID [<hostname>:<pid>]: the name this replica gives in /admin/v1/slots and /admin/v1/stats. */
  replicaId: z.string().min(1).max(200).optional(),
  /** FEROPS_CASCADE_DIR [<venv>/lib/python3.*\/site-packages/cv2/data]: Haar cascade XML files. */
  cascadeDir: z.string().min(1).default(defaultCascadeDir),
  /**
   * FEROPS_CV_WORKERS [min(4, cores - 1), at least 2]: face-detection worker threads; 0 runs it in-process. With two
   * or more, a photo's small-face search runs on another worker.
   */
  cvWorkers: int(0, 64).optional(),
  /**
   * FEROPS_FACE_DETECTOR [blazeface]: `blazeface` (MediaPipe BlazeFace in onnxruntime), `cnn` (face-api's Tiny Face
   * Detector, the default before it) or `haar` (opencv cascades); any name in runtime/detectors.
   */
  faceDetector: z.enum(DETECTOR_NAMES).default('blazeface'),
  /** FEROPS_FACE_DETECTOR_MODEL [<cache>/face-detector/<blazeface_back|tiny_face_detector>.onnx, by detector]: the detector's net, converted by bootstrap. */
  faceDetectorModel: z.string().min(1).optional(),
  /** FEROPS_FACE_LANDMARK_MODEL [face_landmark_68.onnx beside FEROPS_FACE_DETECTOR_MODEL]: the 68-point landmark net that aligns the CNN detectors' faces (blazeface, cnn), converted by bootstrap. */
  faceLandmarkModel: z.string().min(1).optional(),
  /** FEROPS_FACE_VERIFIER_MODEL [mtcnn_onet.onnx beside FEROPS_FACE_DETECTOR_MODEL]: MTCNN's O-Net, which scores the CNN detectors' boxes as face or not, converted by bootstrap. */
  faceVerifierModel: z.string().min(1).optional(),
  /**
   * FEROPS_MIN_FACE_SCORE [0.2 with blazeface, 0.05 with cnn]: a box the face verifier scores lower is not a face and
   * is dropped (0 keeps every box; each still reports its `faceScore`); not with haar. Low on purpose: real faces in
   * shadow, turned or half in profile score low too, and each detector's default sits between them and its false
   * boxes on the test photos (docs/inference.md#landmarks-and-alignment).
   */
  minFaceScore: z.coerce.number().min(0).max(1).optional(),
  /** FEROPS_DETECT_MAX_SIDE [512]: longest side of the copy the face detector searches (cost grows with its square). */
  detectMaxSide: int(64, 4096).default(512),
  /**
   * FEROPS_DETECT_MIN_SCORE [0.25]: blazeface and cnn: lowest face score kept (0.5 missed profile and downcast faces);
   * blazeface's boxes a little under it need the verifier's near-certainty instead (DOUBTFUL_SCORE in blazeface.ts).
   */
  detectMinScore: z.coerce.number().gt(0).lt(1).default(0.25),
  /**
   * FEROPS_DETECT_TILTS [none]: cnn only: in-plane turns (degrees) searched besides upright, e.g. `-35,35`, for
   * heads leaning further than the Tiny Face Detector finds upright (~30 degrees; BlazeFace needs none). Off by
   * default: each turn costs more than the upright pass and brings false boxes (docs/inference.md#landmarks-and-alignment).
   */
  detectTilts: angleList('', 90),
  /**
   * FEROPS_DETECT_MIN_FACE [0 = off]: blazeface and cnn: e.g. `24` searches faces from 24 px up to the sizes the
   * detector finds at its input's scale with MTCNN (P-Net, R-Net, O-Net); on photos larger than
   * FEROPS_DETECT_SEARCH_PIXELS allows, the smallest face grows with the photo to bound the cost. Off by default: it
   * costs more than the detector's own pass (docs/inference.md#landmarks-and-alignment).
   */
  detectMinFace: int(0, MIN_FACE.max)
    .refine(isMinFace, `must be 0 (off) or at least ${MIN_FACE.window} (the smallest window P-Net sees)`)
    .default(0),
  /**
   * FEROPS_DETECT_SEARCH_PIXELS [80000]: with FEROPS_DETECT_MIN_FACE, the most pixels of the search's largest level
   * (the photo scaled so that a FEROPS_DETECT_MIN_FACE face fills P-Net's 12 px window), which bounds its cost: 80000
   * keeps 24 px faces up to a 640x480 photo (a quarter of its pixels). A larger photo is searched from a larger face
   * up, 24 px x sqrt(its pixels / 320000) at the default; raise it to keep the smallest face on larger photos, at a
   * cost that grows with it (docs/inference.md#landmarks-and-alignment). At most 4000000 (24 px faces on a 16 MP
   * photo), because P-Net's memory grows with its level and beyond that would reach gigabytes per photo.
   */
  detectSearchPixels: int(1_000, 4_000_000).default(80_000),
  /**
   * FEROPS_DETECT_ANGLES [0,-20,20]: Haar only: in-plane rotations it searches faces at (`0` alone is ~2.5x cheaper but
   * misses tilted heads), and its eye search tries them when the first try finds no pair (the CNN detectors align on landmarks).
   */
  detectAngles: angleList('0,-20,20', 45, 1),
  /** FEROPS_MAX_BODY_BYTES [10 MB]: largest accepted request body. */
  maxBodyBytes: int(1).default(10 * 1024 * 1024),
  /** FEROPS_MAX_PIXELS [40e6]: largest decoded image (width x height); guards against decompression bombs. */
  maxPixels: int(1).default(40_000_000),
  /** FEROPS_ORT_THREADS [0 = automatic: 1 for a model that runs one face in under 2 ms, else onnxruntime's choice]: intra-op threads per session. */
  ortThreads: int(0, 256).default(0),
  /** FEROPS_BATCH_MAX [16]: most faces run in one onnxruntime call. */
  batchMax: int(1, 1024).default(16),
  /** FEROPS_BATCH_WAIT_MS [2]: longest a face queued behind a running batch waits; an idle batcher runs at once. */
  batchWaitMs: z.coerce.number().min(0).max(1000).default(2),
  /** FEROPS_MODEL_VARIANT [fp32]: `fp32` loads model.onnx, `int8` loads model.int8.onnx. */
  modelVariant: z.enum(['fp32', 'int8']).default('fp32'),
  /** FEROPS_RATE_LIMIT_RPS [0 = off]: requests per second per client address on /v1/predict. */
  rateLimitRps: z.coerce.number().min(0).default(0),
  /** FEROPS_FEEDBACK_RATE_LIMIT_RPS [0 = off]: requests per second per client address on /v1/feedback (its own budget). */
  feedbackRateLimitRps: z.coerce.number().min(0).default(0),
  /** FEROPS_ADMIN_RATE_LIMIT_RPS [0 = off]: requests per second per client address on /admin (its own budget; counted before the token check). */
  adminRateLimitRps: z.coerce.number().min(0).default(0),
  /**
   * FEROPS_TRUSTED_PROXIES [none]: comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For is
   * believed when rate limiting; the client is the right-most hop that is not one of them. Unset: the socket address.
   */
  trustedProxies: z
    .union([z.string(), z.array(z.string())])
    .default([])
    .transform((v, zctx) => {
      const list = (Array.isArray(v) ? v : v.split(',')).map((x) => x.trim()).filter(Boolean);
      const bad = list.filter((x) => !isAddressOrCidr(x));
      if (bad.length > 0) zctx.addIssue({ code: 'custom', message: `not an IP address or CIDR: ${bad.join(', ')}` });
      return list;
    }),
  /** FEROPS_MAX_INFLIGHT [64]: requests on /v1/predict and /v1/feedback being read or answered at once; more get 503 + Retry-After. */
  maxInflight: int(1).default(64),
  /**
   * FEROPS_MAX_BUFFERED_BYTES [256 MiB]: request bodies plus decoded pixels held at once by those requests; a request
   * that would pass it gets 503 + Retry-After (one request alone is always admitted, so a limit below one request's
   * worst case cannot lock it out).
   */
  maxBufferedBytes: int(1).default(256 * 1024 * 1024),
  /** FEROPS_REQUEST_TIMEOUT_MS [30000]: whole-request deadline (node http requestTimeout). */
  requestTimeoutMs: int(1000).default(30_000),
  /** FEROPS_STATS_CAPACITY [20000]: per-request records kept for /admin/v1/stats (bounded memory). */
  statsCapacity: int(100).default(20_000),
  /** FEROPS_FEEDBACK_DIR [<data dir>/feedback]: the durable feedback log and, with FEROPS_KEEP_CROPS, labelled crops. */
  feedbackDir: z.string().min(1).default(() => join(dataDirFrom(env), 'feedback')),
  /** FEROPS_KEEP_CROPS [false]: keep recent 48x48 face crops in memory and save labelled ones as PNG (privacy: off). */
  keepCrops: flag(),
  /**
   * FEROPS_FEEDBACK_CROPS_TRAINABLE [false]: save labelled crops straight into `<feedback dir>/crops/`, the dataset a
   * (drift-triggered) retraining may read. Off: they go to `<feedback dir>/crops-unreviewed/`, for an operator to
   * review and move, because anyone who can reach /v1/feedback can label (label poisoning).
   */
  feedbackCropsTrainable: flag(),
  /** FEROPS_RECENT_CROP_BYTES [18432 = 8 crops]: crop bytes kept per remembered answer (FEROPS_KEEP_CROPS); faces past it are labelled without a crop. */
  recentCropBytes: int(0).default(8 * 48 * 48),
  /** FEROPS_RECENT_CROPS_TOTAL_BYTES [64 MiB]: crop bytes kept over all remembered answers; the oldest answers lose their crops first. */
  recentCropsTotalBytes: int(0).default(64 * 1024 * 1024),
  /** FEROPS_RECENT_PREDICTIONS [10000]: answers remembered so feedback can be joined to them (bounded memory). */
  recentPredictions: int(1).default(10_000),
  /**
   * FEROPS_INFERENCE_DISCOVERY [unset]: the fleet's replicas' admin APIs (`dns:<host>:<port>`, `file:<path>` or a
   * list of URLs, as the deploy activities read it). Set, feedback for a prediction this replica did not make is
   * passed to the replica that made it (runtime/feedback-peers.ts); needs FEROPS_ADMIN_TOKEN. Unset: 404.
   */
  inferenceDiscovery: sharedRules.inferenceDiscovery.optional(),
  /** FEROPS_FEEDBACK_TTL_SECONDS [3600]: how long after a prediction feedback on it is accepted. */
  feedbackTtlSeconds: int(1).default(3600),
  /** FEROPS_FEEDBACK_MAX_BYTES [64 MiB]: size at which feedback.jsonl is rotated to feedback.jsonl.1 (one old file kept). */
  feedbackMaxBytes: int(1024).default(64 * 1024 * 1024),
  /**
   * FEROPS_TEMPORAL_UI_URL [unset]: the Temporal Web UI with its namespace (http://127.0.0.1:8233/namespaces/default);
   * the try-it page links the running rollout there. Unset: no Temporal link.
   */
  temporalUiUrl: sharedRules.temporalUiUrl,
  /** FEROPS_MLFLOW_UI_URL [unset]: the MLflow UI (http://127.0.0.1:5000); the try-it page links model versions there. Unset: no link. */
  mlflowUiUrl: z.string().url().optional(),
  /** FEROPS_LOG_LEVEL [info]: `silent` turns the per-request JSON log off (tests). */
  logLevel: z.enum(['silent', 'error', 'info']).default('info'),
});

/**
 * The schema: the keys, a rule between two of them, then the defaults that depend on other keys (the face detector,
 * the small-face search).
 */
export const makeConfigSchema = (env: NodeJS.ProcessEnv = process.env) =>
  configKeys(env)
    .refine((c) => !c.inferenceDiscovery || c.adminToken, {
      path: ['inferenceDiscovery'],
      message: 'needs FEROPS_ADMIN_TOKEN: feedback is passed to other replicas through their admin API',
    })
    .transform((c) => ({
      ...c,
      cvWorkers: c.cvWorkers ?? defaultWorkerCount(),
      faceDetectorModel: c.faceDetectorModel ?? defaultDetectorModel(c.faceDetector),
      minFaceScore: c.minFaceScore ?? defaultMinFaceScore(c.faceDetector),
    }));

export type InferenceConfig = z.output<ReturnType<typeof makeConfigSchema>>;

const ENV_KEYS: Record<keyof InferenceConfig, string> = {
  host: 'FEROPS_INFERENCE_HOST',
  port: 'FEROPS_INFERENCE_PORT',
  adminPort: 'FEROPS_ADMIN_PORT',
  adminHost: 'FEROPS_ADMIN_HOST',
  adminToken: 'FEROPS_ADMIN_TOKEN',
  mlflowUrl: 'FEROPS_MLFLOW_URL',
  desiredState: 'FEROPS_DESIRED_STATE',
  modelName: 'FEROPS_MODEL_NAME',
  desiredStatePollMs: 'FEROPS_DESIRED_STATE_POLL_MS',
  replicaId: 'FEROPS_REPLICA_ID',
  modelCacheDir: 'FEROPS_MODEL_CACHE_DIR',
  modelDirs: 'FEROPS_MODEL_DIRS',
  stableModel: 'FEROPS_STABLE_MODEL',
  cascadeDir: 'FEROPS_CASCADE_DIR',
  cvWorkers: 'FEROPS_CV_WORKERS',
  faceDetector: 'FEROPS_FACE_DETECTOR',
  faceDetectorModel: 'FEROPS_FACE_DETECTOR_MODEL',
  faceLandmarkModel: 'FEROPS_FACE_LANDMARK_MODEL',
  faceVerifierModel: 'FEROPS_FACE_VERIFIER_MODEL',
  minFaceScore: 'FEROPS_MIN_FACE_SCORE',
  detectMaxSide: 'FEROPS_DETECT_MAX_SIDE',
  detectMinScore: 'FEROPS_DETECT_MIN_SCORE',
  detectAngles: 'FEROPS_DETECT_ANGLES',
  detectTilts: 'FEROPS_DETECT_TILTS',
  detectMinFace: 'FEROPS_DETECT_MIN_FACE',
  detectSearchPixels: 'FEROPS_DETECT_SEARCH_PIXELS',
  maxBodyBytes: 'FEROPS_MAX_BODY_BYTES',
  maxPixels: 'FEROPS_MAX_PIXELS',
  ortThreads: 'FEROPS_ORT_THREADS',
  batchMax: 'FEROPS_BATCH_MAX',
  batchWaitMs: 'FEROPS_BATCH_WAIT_MS',
  modelVariant: 'FEROPS_MODEL_VARIANT',
  rateLimitRps: 'FEROPS_RATE_LIMIT_RPS',
  feedbackRateLimitRps: 'FEROPS_FEEDBACK_RATE_LIMIT_RPS',
  adminRateLimitRps: 'FEROPS_ADMIN_RATE_LIMIT_RPS',
  trustedProxies: 'FEROPS_TRUSTED_PROXIES',
  maxInflight: 'FEROPS_MAX_INFLIGHT',
  maxBufferedBytes: 'FEROPS_MAX_BUFFERED_BYTES',
  requestTimeoutMs: 'FEROPS_REQUEST_TIMEOUT_MS',
  statsCapacity: 'FEROPS_STATS_CAPACITY',
  logLevel: 'FEROPS_LOG_LEVEL',
  temporalUiUrl: 'FEROPS_TEMPORAL_UI_URL',
  mlflowUiUrl: 'FEROPS_MLFLOW_UI_URL',
  feedbackDir: 'FEROPS_FEEDBACK_DIR',
  keepCrops: 'FEROPS_KEEP_CROPS',
  feedbackCropsTrainable: 'FEROPS_FEEDBACK_CROPS_TRAINABLE',
  recentCropBytes: 'FEROPS_RECENT_CROP_BYTES',
  recentCropsTotalBytes: 'FEROPS_RECENT_CROPS_TOTAL_BYTES',
  recentPredictions: 'FEROPS_RECENT_PREDICTIONS',
  inferenceDiscovery: 'FEROPS_INFERENCE_DISCOVERY',
  feedbackTtlSeconds: 'FEROPS_FEEDBACK_TTL_SECONDS',
  feedbackMaxBytes: 'FEROPS_FEEDBACK_MAX_BYTES',
};

/** Reads the environment, applies `overrides` on top, validates; throws one message naming every bad key. */
export function loadConfig(
  overrides: Partial<InferenceConfig> = {},
  env: NodeJS.ProcessEnv = process.env,
): InferenceConfig {
  const raw: Record<string, unknown> = {};
  for (const [key, envKey] of Object.entries(ENV_KEYS)) {
    const v = env[envKey];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  for (const [key, v] of Object.entries(overrides)) if (v !== undefined) raw[key] = v;
  const parsed = makeConfigSchema(env).safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      const key = String(i.path[0]) as keyof InferenceConfig;
      return `${ENV_KEYS[key] ?? key}: ${i.message}`;
    });
    throw new Error(`invalid inference config: ${issues.join('; ')}`);
  }
  return parsed.data;
}
