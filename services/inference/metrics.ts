import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics, on a registry owned by one server instance (tests run several servers in one process, and
 * prom-client's global registry would refuse the second set of names).
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ferops_inference_' });
  const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
  return {
    registry,
    requests: new Counter({
      name: 'ferops_inference_requests_total',
      help: 'Prediction requests by answering slot, model version and HTTP status',
      labelNames: ['slot', 'version', 'status'] as const,
      registers: [registry],
    }),
    stageSeconds: new Histogram({
      name: 'ferops_inference_stage_seconds',
      help: 'Time per pipeline stage (decode, detect, align, infer)',
      labelNames: ['stage'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    totalSeconds: new Histogram({
      name: 'ferops_inference_request_seconds',
      help: 'Whole prediction time, decode to response',
      labelNames: ['slot'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    facesPerImage: new Histogram({
      name: 'ferops_inference_faces_per_image',
      help: 'Faces found per image',
      buckets: [0, 1, 2, 3, 5, 8, 13],
      registers: [registry],
    }),
    batchFaces: new Histogram({
      name: 'ferops_inference_batch_faces',
      help: 'Faces per onnxruntime run (the micro-batcher joins concurrent requests)',
      buckets: [1, 2, 4, 8, 16, 32],
      registers: [registry],
    }),
    predictions: new Counter({
      name: 'ferops_inference_predictions_total',
      help: 'Predicted faces by class and slot',
      labelNames: ['class', 'slot'] as const,
      registers: [registry],
    }),
    confidence: new Histogram({
      name: 'ferops_inference_confidence',
      help: 'Top-class probability per face',
      labelNames: ['slot'] as const,
      buckets: [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
      registers: [registry],
    }),
    noFace: new Counter({
      name: 'ferops_inference_no_face_total',
      help: 'Images in which no face was found',
      registers: [registry],
    }),
    shadowCompared: new Counter({
      name: 'ferops_inference_shadow_faces_total',
      help: 'Faces classified by the shadow (canary) model, by whether it agreed with stable',
      labelNames: ['agreed'] as const,
      registers: [registry],
    }),
    feedback: new Counter({
      name: 'ferops_feedback_total',
      help: 'Labelled faces received through /v1/feedback, by the model version that answered and whether it was right',
      labelNames: ['version', 'correct'] as const,
      registers: [registry],
    }),
    inflight: new Gauge({
      name: 'ferops_inference_inflight_requests',
      help: 'Requests on /v1/predict and /v1/feedback being read or answered (admission control, FEROPS_MAX_INFLIGHT)',
      registers: [registry],
    }),
    bufferedBytes: new Gauge({
      name: 'ferops_inference_buffered_bytes',
      help: 'Request bodies and decoded pixels held by those requests (admission control, FEROPS_MAX_BUFFERED_BYTES)',
      registers: [registry],
    }),
    shed: new Counter({
      name: 'ferops_inference_shed_total',
      help: 'Requests answered 503 overloaded, by the limit that was full',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    feedbackAccuracy: new Gauge({
      name: 'ferops_feedback_accuracy',
      help: "Live accuracy per model version: correct / labelled faces, over this replica's durable feedback log",
      labelNames: ['version'] as const,
      registers: [registry],
    }),
    // The counts behind it, so that a fleet's accuracy is a ratio of sums over replicas, not a mean of ratios.
    feedbackLabelled: new Gauge({
      name: 'ferops_feedback_labelled_faces',
      help: "Labelled faces per model version in this replica's durable feedback log (sum over replicas for the fleet)",
      labelNames: ['version'] as const,
      registers: [registry],
    }),
    feedbackCorrect: new Gauge({
      name: 'ferops_feedback_correct_faces',
      help: "Of this replica's labelled faces, those the model got right, per model version",
      labelNames: ['version'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
