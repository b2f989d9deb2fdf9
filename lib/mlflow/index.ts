export { MlflowClient, type MlflowClientOptions } from './client';
export { MlflowError, MlflowUnavailableError, isAlreadyExists, isNotFound } from './errors';
export { MetricBuffer, type MetricBufferOptions } from './metric-buffer';
export { BATCH_LIMITS, splitBatch } from './batch';
export { proxyPath } from './artifact-uri';
export type { RetryOptions } from './retry';
export type { MetricPoint } from './runs';
export * from './types';
