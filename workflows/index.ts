/** Every workflow the worker registers. Deterministic code only: see DESIGN.md. */
export { trainingPipeline } from './training-pipeline';
export { canaryRollout } from './canary-rollout';
export { driftMonitor } from './drift-monitor';
export { deploymentLease } from './deployment-lease';
export { housekeeping } from './housekeeping';
