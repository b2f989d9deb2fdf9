import type { InferenceConfig } from './config';
import type { Admission } from './http/admission';
import type { ClientAddress } from './http/client-address';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import type { FaceFinder } from './runtime/face-finder';
import type { FeedbackPeers } from './runtime/feedback-peers';
import type { FeedbackStore } from './runtime/feedback-store';
import type { SessionOptions } from './runtime/model';
import type { ResolvedSource } from './runtime/model-source';
import type { RecentPredictions } from './runtime/recent-predictions';
import type { ReplicaDeployment } from '../../lib/inference-admin/wire';
import type { Slots } from './runtime/slots';
import type { StatsRing } from './runtime/stats-ring';

/** Everything the use cases need, wired once in app.ts; tests can build it with fakes. */
export interface ServiceContext {
  config: InferenceConfig;
  logger: Logger;
  metrics: Metrics;
  /** In-flight and buffered-bytes limits of /v1/predict and /v1/feedback. */
  admission: Admission;
  /** The address rate limits count a request against (FEROPS_TRUSTED_PROXIES). */
  clientAddress: ClientAddress;
  slots: Slots;
  /** Whether and how this replica follows the fleet's desired state (runtime/desired-state-follower.ts). */
  deployment: { status(): ReplicaDeployment };
  stats: StatsRing;
  /** Recent answers, joined by feedback; holds crops only with FEROPS_KEEP_CROPS. */
  recent: RecentPredictions;
  feedback: FeedbackStore;
  /** The other replicas, asked for feedback on predictions this one did not make (FEROPS_INFERENCE_DISCOVERY). */
  peers?: FeedbackPeers;
  /** Face detection + alignment, in-process or on worker threads. */
  faces: FaceFinder;
  sessionOptions: SessionOptions;
  modelSource: { resolve(source: string): Promise<ResolvedSource> };
  /** Serialises admin operations so two loads into one slot cannot interleave. */
  adminLock: <T>(fn: () => Promise<T>) => Promise<T>;
}
