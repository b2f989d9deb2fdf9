import { LABELS } from '../../lib/labels';
import { MIN_FACE } from './config';

/**
 * Hand-written OpenAPI 3.1 description of every route. The contract test validates real responses against the
 * component schemas here, so a response change that is not reflected in this file fails the tests.
 */
const num = { type: 'number' };
const nullableNum = { type: ['number', 'null'] };
const str = { type: 'string' };
const labelMap = { type: 'object', required: [...LABELS], properties: Object.fromEntries(LABELS.map((l) => [l, num])), additionalProperties: false };
const labelCounts = { type: 'object', required: [...LABELS], properties: Object.fromEntries(LABELS.map((l) => [l, { type: 'integer' }])), additionalProperties: false };
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ 'application/json': { schema } });
const error = (description: string) => ({ description, content: json(ref('Error')) });
/** 429 and 503 answers that say when to come back. */
const retryLater = (description: string) => ({ ...error(description), headers: { 'retry-after': { description: 'seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } } } });
const adminErrors = {
  '401': error('missing bearer token'),
  '403': error('wrong token'),
  '429': retryLater('rate_limited: more than FEROPS_ADMIN_RATE_LIMIT_RPS from this client (counted before the token check)'),
  '503': error('admin API disabled (no FEROPS_ADMIN_TOKEN)'),
};

export const schemas = {
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message', 'requestId'],
        properties: { code: str, message: str, requestId: str },
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  Point: { type: 'array', items: num, minItems: 2, maxItems: 2, description: '[x, y] in image pixels' },
  Face: {
    type: 'object',
    required: ['box', 'alignment', 'faceScore', 'label', 'confidence', 'probabilities'],
    properties: {
      box: {
        type: 'object',
        required: ['x', 'y', 'width', 'height'],
        properties: { x: { type: 'integer' }, y: { type: 'integer' }, width: { type: 'integer' }, height: { type: 'integer' } },
        additionalProperties: false,
      },
      alignment: {
        type: 'object',
        description: 'how the face was levelled and framed before the model saw it',
        required: ['angleDeg', 'eyesFound', 'method', 'confidence', 'eyes'],
        properties: {
          angleDeg: { ...num, description: 'rotation applied to level the eyes, degrees (positive: the face leaned clockwise); 0 when method is none' },
          eyesFound: { type: 'integer', minimum: 0, maximum: 2, description: '2 when the eyes were located (landmarks or the Haar eye pair)' },
          method: {
            type: 'string',
            enum: ['landmarks', 'eyes', 'none'],
            description: 'landmarks: 68-point CNN landmarks, similarity warp of eyes, nose and mouth corners to fixed places (cnn detector); eyes: Haar eye pair (haar detector); none: not trusted or not searched, box crop unrotated',
          },
          confidence: { ...num, minimum: 0, maximum: 1, description: 'trust in the located points (face geometry check); below 0.5 the face is not aligned on them' },
          eyes: {
            description: 'eye centres in image pixels from the landmarks (left = on the image left), trusted or not; null without landmarks',
            oneOf: [
              {
                type: 'object',
                required: ['left', 'right'],
                properties: { left: ref('Point'), right: ref('Point') },
                additionalProperties: false,
              },
              { type: 'null' },
            ],
          },
        },
        additionalProperties: false,
      },
      faceScore: {
        description:
          "the face verifier's (MTCNN O-Net) probability that the box holds a face; boxes under FEROPS_MIN_FACE_SCORE are not answered; null when no verifier ran (haar detector, detect=false)",
        oneOf: [{ ...num, minimum: 0, maximum: 1 }, { type: 'null' }],
      },
      label: { type: 'string', enum: [...LABELS] },
      confidence: num,
      probabilities: labelMap,
      crop: { type: 'string', pattern: '^data:image/png;base64,', description: 'the aligned 48x48 grayscale crop the model saw, as a PNG data URL; only with ?crops=true' },
    },
    additionalProperties: false,
  },
  PredictResponse: {
    type: 'object',
    required: ['requestId', 'modelVersion', 'slot', 'faces', 'timingsMs'],
    properties: {
      requestId: str,
      modelVersion: str,
      slot: { type: 'string', enum: ['stable', 'canary'] },
      faces: { type: 'array', items: ref('Face') },
      reason: { type: 'string', enum: ['no_face_detected'] },
      timingsMs: {
        type: 'object',
        required: ['decode', 'detect', 'align', 'infer', 'total'],
        properties: { decode: num, detect: num, align: num, infer: num, total: num },
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  SlotView: {
    type: 'object',
    required: ['slot', 'version', 'source', 'checksum', 'loadedAt'],
    properties: { slot: { type: 'string', enum: ['stable', 'canary'] }, version: str, source: str, checksum: str, loadedAt: str },
    additionalProperties: false,
  },
  SlotsState: {
    type: 'object',
    required: ['stable', 'canary', 'traffic', 'replica', 'deployment'],
    properties: {
      stable: { oneOf: [ref('SlotView'), { type: 'null' }] },
      canary: { oneOf: [ref('SlotView'), { type: 'null' }] },
      traffic: {
        type: 'object',
        required: ['canaryWeight', 'shadow'],
        properties: { canaryWeight: { type: 'integer' }, shadow: { type: 'boolean' } },
        additionalProperties: false,
      },
      replica: ref('ReplicaIdentity'),
      deployment: {
        type: 'object',
        description: "how this replica follows the fleet's desired state (FEROPS_DESIRED_STATE); following null for a standalone service",
        required: ['following', 'generation', 'appliedAt', 'error'],
        properties: {
          following: { type: ['string', 'null'] },
          generation: { type: ['integer', 'null'] },
          appliedAt: { type: ['string', 'null'] },
          error: {
            oneOf: [
              {
                type: 'object',
                required: ['generation', 'message', 'at', 'retryable'],
                properties: { generation: { type: ['integer', 'null'] }, message: str, at: str, retryable: { type: 'boolean', description: 'false: the model was refused and stays refused; true: the registry or network failed, and the replica keeps trying' } },
                additionalProperties: false,
              },
              { type: 'null' },
            ],
          },
        },
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  LatencySketch: {
    type: 'object',
    description: 'mergeable latency histogram (lib/latency-sketch.ts): bucket i holds (gamma^(i-1), gamma^i] ms; fleets sum the counts of equal gamma',
    required: ['gamma', 'minMs', 'zeroCount', 'counts'],
    properties: {
      gamma: num,
      minMs: { ...num, description: 'latencies at or below it are counted in zeroCount' },
      zeroCount: { type: 'integer' },
      counts: { type: 'object', description: 'count per bucket index (integer keys, negative below 1 ms)', additionalProperties: { type: 'integer' } },
    },
    additionalProperties: false,
  },
  ReplicaIdentity: {
    type: 'object',
    required: ['id', 'startedAt'],
    properties: { id: { ...str, description: 'FEROPS_REPLICA_ID, or host:pid' }, startedAt: str },
    additionalProperties: false,
  },
  SlotStats: {
    type: 'object',
    description: 'raw counts (summed over replicas by a fleet merge) and the figures derived from them',
    required: ['version', 'requests', 'errors', 'okRequests', 'noFaceRequests', 'faces', 'confidenceSum', 'classCounts', 'latency', 'latencyMs', 'meanConfidence', 'noFaceRate'],
    properties: {
      version: { type: ['string', 'null'] },
      requests: { type: 'integer' },
      errors: { type: 'integer' },
      okRequests: { type: 'integer' },
      noFaceRequests: { type: 'integer', description: 'successful requests without a face' },
      confidenceSum: { ...num, description: 'sum of the top-class probability over the faces' },
      latency: ref('LatencySketch'),
      latencyMs: {
        type: 'object',
        required: ['p50', 'p95', 'p99'],
        properties: { p50: nullableNum, p95: nullableNum, p99: nullableNum },
        additionalProperties: false,
      },
      classCounts: labelCounts,
      meanConfidence: nullableNum,
      faces: { type: 'integer' },
      noFaceRate: nullableNum,
    },
    additionalProperties: false,
  },
  FeedbackRequest: {
    type: 'object',
    required: ['requestId', 'label'],
    properties: {
      requestId: { type: 'string', minLength: 1, maxLength: 200, description: 'x-request-id of the prediction' },
      faceIndex: { type: 'integer', minimum: 0, description: 'which face of the answer; may be left out when it had one face' },
      label: {
        oneOf: [{ type: 'string', enum: [...LABELS] }, { type: 'integer', minimum: 0, maximum: LABELS.length - 1 }],
        description: 'a class name (the service also takes it in any case, with spaces around) or its index',
      },
    },
    additionalProperties: false,
  },
  FeedbackResponse: {
    type: 'object',
    required: ['requestId', 'faceIndex', 'modelVersion', 'predicted', 'label', 'correct'],
    properties: {
      requestId: str,
      faceIndex: { type: 'integer' },
      modelVersion: str,
      predicted: { type: 'string', enum: [...LABELS] },
      label: { type: 'string', enum: [...LABELS] },
      correct: { type: 'boolean' },
      cropPath: str,
    },
    additionalProperties: false,
  },
  SlotDrift: {
    type: 'object',
    required: ['version', 'requests', 'requestsWithFace', 'faces', 'confidenceSum', 'faceDetectionRate', 'meanConfidence', 'features'],
    properties: {
      version: { type: ['string', 'null'] },
      requests: { type: 'integer', description: 'successful requests' },
      requestsWithFace: { type: 'integer' },
      faces: { type: 'integer' },
      confidenceSum: num,
      faceDetectionRate: nullableNum,
      meanConfidence: nullableNum,
      features: {
        type: 'object',
        required: ['classes', 'brightness', 'contrast'],
        properties: {
          classes: { type: 'array', items: { type: 'integer' }, minItems: LABELS.length, maxItems: LABELS.length },
          brightness: { type: 'array', items: { type: 'integer' } },
          contrast: { type: 'array', items: { type: 'integer' } },
        },
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  DriftResponse: {
    type: 'object',
    required: ['windowSeconds', 'generation', 'replica', 'binning', 'slots'],
    properties: {
      windowSeconds: { type: 'integer' },
      generation: { type: ['integer', 'null'], description: 'the desired-state generation counted; null for a standalone service' },
      replica: ref('ReplicaIdentity'),
      binning: {
        type: 'object',
        required: ['classes', 'bins', 'brightnessRange', 'contrastRange'],
        properties: {
          classes: { type: 'array', items: str },
          bins: { type: 'integer' },
          brightnessRange: { type: 'array', items: num },
          contrastRange: { type: 'array', items: num },
        },
        additionalProperties: false,
      },
      slots: {
        type: 'object',
        required: ['stable', 'canary'],
        properties: { stable: ref('SlotDrift'), canary: ref('SlotDrift') },
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  StatsResponse: {
    type: 'object',
    required: ['windowSeconds', 'generation', 'replica', 'slots', 'shadow'],
    properties: {
      windowSeconds: { type: 'integer' },
      generation: { type: ['integer', 'null'], description: 'the desired-state generation counted; null for a standalone service' },
      replica: ref('ReplicaIdentity'),
      slots: {
        type: 'object',
        required: ['stable', 'canary'],
        properties: { stable: ref('SlotStats'), canary: ref('SlotStats') },
        additionalProperties: false,
      },
      shadow: {
        type: 'object',
        required: ['compared', 'agreed', 'errors', 'classCounts', 'agreement', 'chanceAgreement'],
        properties: {
          compared: { type: 'integer' },
          agreed: { type: 'integer' },
          classCounts: {
            type: 'object',
            description: "compared faces per label as each model classified them (the marginals of Cohen's p_e)",
            required: ['stable', 'canary'],
            properties: { stable: labelCounts, canary: labelCounts },
            additionalProperties: false,
          },
          agreement: nullableNum,
          chanceAgreement: { ...nullableNum, description: "agreement two models with the window's class distributions reach by chance (Cohen's p_e)" },
          errors: { type: 'integer', description: 'shadow runs that failed' },
        },
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  PublicSlot: {
    type: 'object',
    required: ['version', 'mlflowUrl'],
    properties: { version: str, mlflowUrl: { type: ['string', 'null'], description: 'the registered model version in the MLflow UI (FEROPS_MLFLOW_UI_URL); null for a model loaded from a directory' } },
    additionalProperties: false,
  },
  PublicStatus: {
    type: 'object',
    description: 'what anyone may read about the deployment: no model sources, paths or checksums',
    required: ['stable', 'canary', 'canaryWeight', 'shadow', 'generation', 'links'],
    properties: {
      stable: { oneOf: [ref('PublicSlot'), { type: 'null' }] },
      canary: { oneOf: [ref('PublicSlot'), { type: 'null' }] },
      canaryWeight: { type: 'integer', minimum: 0, maximum: 100 },
      shadow: { type: 'boolean' },
      generation: { type: ['integer', 'null'], description: 'the desired-state generation served; null for a standalone service' },
      links: {
        type: 'object',
        required: ['temporal', 'mlflow'],
        properties: {
          temporal: { type: ['string', 'null'], description: "FEROPS_TEMPORAL_UI_URL's list of the workflows that trained the canary (its rollout among them), or the UI itself without a registry canary" },
          mlflow: { type: ['string', 'null'], description: 'FEROPS_MLFLOW_UI_URL' },
        },
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  Health: { type: 'object', required: ['status'], properties: { status: str, stableVersion: str, reason: str } },
} as const;

export const openapi = {
  openapi: '3.1.0',
  info: {
    title: 'ferops inference service',
    version: '1.0.0',
    description: 'Facial-expression recognition (FER2013 classes) with stable/canary model slots.',
  },
  components: {
    schemas,
    securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'FEROPS_ADMIN_TOKEN' } },
  },
  paths: {
    '/v1/predict': {
      post: {
        summary: 'Detect, align and classify every face in an image',
        parameters: [
          { name: 'detect', in: 'query', required: false, schema: { type: 'boolean', default: true }, description: 'false: the whole image is one face crop' },
          { name: 'crops', in: 'query', required: false, schema: { type: 'boolean', default: false }, description: "true: each face carries `crop`, the aligned 48x48 input the model saw, as a PNG data URL (about 3 kB a face)" },
          {
            name: 'minFace',
            in: 'query',
            required: false,
            schema: { type: 'integer', minimum: 0, maximum: MIN_FACE.max },
            description: `the smallest face (px high) to search for with MTCNN beside the detector, for this photo: 0 (none) or ${MIN_FACE.window}-${MIN_FACE.max}; default FEROPS_DETECT_MIN_FACE (0). About doubles the photo's CPU; not with the haar detector (400)`,
          },
          { name: 'x-ferops-route-key', in: 'header', required: false, schema: str, description: 'sticky canary routing key' },
          { name: 'x-request-id', in: 'header', required: false, schema: str },
        ],
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': { schema: { type: 'object', required: ['image'], properties: { image: { type: 'string', format: 'binary' } } } },
            'image/*': { schema: { type: 'string', format: 'binary' } },
          },
        },
        responses: {
          '200': {
            description: 'faces found (possibly none, with reason no_face_detected)',
            headers: { 'x-model-version': { schema: str }, 'x-request-id': { schema: str } },
            content: json(ref('PredictResponse')),
          },
          '400': error('empty_body, invalid_image, missing_file, too_many_files, unexpected_field, invalid_multipart, invalid_request'),
          '413': error('payload_too_large, too_many_pixels'),
          '415': error('unsupported_media_type'),
          '422': error('image_too_small'),
          '429': retryLater('rate_limited: more than FEROPS_RATE_LIMIT_RPS from this client'),
          '500': error('inference_failed'),
          '503': retryLater('overloaded: FEROPS_MAX_INFLIGHT requests in flight or FEROPS_MAX_BUFFERED_BYTES held (with Retry-After); no_model: no stable model loaded'),
        },
      },
    },
    '/admin/v1/slots': {
      get: { summary: 'State of both slots and the traffic split', security: [{ adminToken: [] }], responses: { '200': { description: 'slots', content: json(ref('SlotsState')) }, ...adminErrors } },
    },
    '/admin/v1/slots/{slot}': {
      parameters: [{ name: 'slot', in: 'path', required: true, schema: { type: 'string', enum: ['stable', 'canary'] } }],
      put: {
        summary: 'Load a model into a slot (local dir inside FEROPS_MODEL_DIRS, models:/<name>/<version> or models:/<name>@<alias>)',
        security: [{ adminToken: [] }],
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['source'],
            properties: {
              source: str,
              // Sent back as the x-model-version header on every answer.
              version: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[!-~]([ -~]*[!-~])?$', description: 'printable ASCII, no space at either end; default: the model directory name or <name>/<version>' },
            },
            additionalProperties: false,
          }),
        },
        responses: {
          '200': { description: 'loaded', content: json(ref('SlotView')) },
          '400': error('invalid_request (also a version, given or derived from the source, that is not printable ASCII), invalid_source'),
          '403': error('forbidden, source_not_allowed'),
          '404': error('model_not_found'),
          '422': error('invalid_model, checksum_mismatch: the slot keeps its previous model'),
          '409': error("follows_desired_state: this replica serves the fleet's desired state (FEROPS_DESIRED_STATE=mlflow)"),
          '502': error('registry_unavailable'),
          '401': adminErrors['401'],
          '429': adminErrors['429'],
          '503': adminErrors['503'],
        },
      },
      delete: {
        summary: 'Empty the canary slot (only canary)',
        security: [{ adminToken: [] }],
        responses: { '200': { description: 'slots', content: json(ref('SlotsState')) }, '400': error('only canary can be emptied'), '409': error("follows_desired_state: this replica serves the fleet's desired state (FEROPS_DESIRED_STATE=mlflow)"), ...adminErrors },
      },
    },
    '/admin/v1/traffic': {
      put: {
        summary: 'Set the canary weight (0-100) and/or shadow mode',
        security: [{ adminToken: [] }],
        requestBody: {
          required: true,
          content: json({ type: 'object', properties: { canaryWeight: { type: 'integer', minimum: 0, maximum: 100 }, shadow: { type: 'boolean' } } }),
        },
        responses: { '200': { description: 'slots', content: json(ref('SlotsState')) }, '400': error('invalid_request'), '409': error("no_canary, or follows_desired_state: this replica serves the fleet's desired state (FEROPS_DESIRED_STATE=mlflow)"), ...adminErrors },
      },
    },
    '/admin/v1/promote': {
      post: { summary: 'Canary becomes stable; canary emptied, weight 0', security: [{ adminToken: [] }], responses: { '200': { description: 'slots', content: json(ref('SlotsState')) }, '409': error("no_canary, or follows_desired_state: this replica serves the fleet's desired state (FEROPS_DESIRED_STATE=mlflow)"), ...adminErrors } },
    },
    '/admin/v1/rollback': {
      post: { summary: 'Weight 0, shadow off, canary emptied', security: [{ adminToken: [] }], responses: { '200': { description: 'slots', content: json(ref('SlotsState')) }, '409': error("follows_desired_state: this replica serves the fleet's desired state (FEROPS_DESIRED_STATE=mlflow)"), ...adminErrors } },
    },
    '/admin/v1/drift': {
      get: {
        summary: 'Per-slot live input statistics for drift: predicted classes, crop brightness/contrast histograms, confidence, face-detection rate',
        security: [{ adminToken: [] }],
        parameters: [{ name: 'windowSeconds', in: 'query', required: false, schema: { type: 'integer', minimum: 1, default: 600 } }, { name: 'generation', in: 'query', required: false, description: 'count only requests routed under this desired-state generation (default: the one served now)', schema: { type: 'integer', minimum: 0 } }],
        responses: { '200': { description: 'drift statistics', content: json(ref('DriftResponse')) }, '400': error('invalid_request'), ...adminErrors },
      },
    },
    '/v1/feedback': {
      post: {
        summary: 'Label a face of a recent prediction; stored durably and counted in live accuracy per model version. With FEROPS_INFERENCE_DISCOVERY, a label for a prediction another replica made is stored by that replica',
        requestBody: { required: true, content: json(ref('FeedbackRequest')) },
        responses: {
          '201': { description: 'stored', content: json(ref('FeedbackResponse')) },
          '400': error('invalid_request, invalid_json: bad body, faceIndex out of range, or left out for an answer with other than one face'),
          '404': error('unknown_request: never answered (by any replica), evicted or older than FEROPS_FEEDBACK_TTL_SECONDS'),
          '409': error('already_labelled'),
          '429': retryLater('rate_limited: more than FEROPS_FEEDBACK_RATE_LIMIT_RPS from this client'),
          '500': error('feedback_not_stored'),
          '503': retryLater('overloaded: FEROPS_MAX_INFLIGHT requests in flight or FEROPS_MAX_BUFFERED_BYTES held; feedback_unavailable: a replica that may have made the prediction did not answer'),
        },
      },
    },
    '/admin/v1/feedback': {
      post: {
        summary: 'A label passed on by another replica: stored only if this replica made the prediction, never passed on again',
        security: [{ adminToken: [] }],
        requestBody: { required: true, content: json(ref('FeedbackRequest')) },
        responses: {
          '200': { description: 'stored', content: json(ref('FeedbackResponse')) },
          '400': error('invalid_request: bad body, faceIndex out of range, or left out for an answer with other than one face'),
          '404': error('unknown_request: not a recent prediction of this replica'),
          '409': error('already_labelled'),
          '500': error('feedback_not_stored'),
          ...adminErrors,
        },
      },
    },
    '/admin/v1/stats': {
      get: {
        summary: 'Per-slot statistics of one replica over a time window and one generation (ring buffer of recent requests), with the raw counts a fleet merge sums',
        security: [{ adminToken: [] }],
        parameters: [{ name: 'windowSeconds', in: 'query', required: false, schema: { type: 'integer', minimum: 1, default: 60 } }, { name: 'generation', in: 'query', required: false, description: 'count only requests routed under this desired-state generation (default: the one served now)', schema: { type: 'integer', minimum: 0 } }],
        responses: { '200': { description: 'stats', content: json(ref('StatsResponse')) }, '400': error('invalid_request'), ...adminErrors },
      },
    },
    '/v1/status': {
      get: {
        summary: 'Read-only deployment summary for the try-it page: slot versions, canary weight, shadow, links to the Temporal and MLflow UIs (no token)',
        responses: {
          '200': { description: 'status', content: json(ref('PublicStatus')) },
          '429': retryLater('rate_limited: more than FEROPS_RATE_LIMIT_RPS from this client'),
        },
      },
    },
    '/': {
      get: {
        summary: 'The try-it page: upload a photo or take a webcam snapshot, see boxes, crops, probabilities and timings (strict Content-Security-Policy)',
        responses: { '200': { description: 'HTML page', content: { 'text/html': { schema: str } } } },
      },
    },
    '/assets/{file}': {
      parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string', enum: ['page.js', 'page.css'] } }],
      get: { summary: "The try-it page's script and style sheet", responses: { '200': { description: 'JavaScript or CSS', content: { 'text/javascript': { schema: str }, 'text/css': { schema: str } } } } },
    },
    '/healthz': { get: { summary: 'Liveness', responses: { '200': { description: 'alive', content: json(ref('Health')) } } } },
    '/readyz': {
      get: {
        summary: 'Readiness: 503 until a stable model is loaded',
        responses: { '200': { description: 'ready', content: json(ref('Health')) }, '503': { description: 'not ready', content: json(ref('Health')) } },
      },
    },
    '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text exposition format', content: { 'text/plain': { schema: str } } } } } },
    '/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } } } },
  },
} as const;
