import { after, before, describe, it } from 'node:test';
import { startChaosStack, type ChaosStack } from './harness';
import { checkpointDiskFull, doubleStart, mlflowOutage, temporalRestart, truncatedCheckpoint } from './pipeline-scenarios';

// Server and disk faults in the middle of a real pipeline, one stack for the file (bodies: pipeline-scenarios.ts).
let s: ChaosStack;
before(async () => void (s = await startChaosStack('chaos-pipeline')), { timeout: 300_000 });
after(async () => await s?.close());

describe('chaos: pipeline faults', { timeout: 1_200_000 }, () => {
  it('when MLflow is stopped for 60 s mid-training and restarted on the same port and dir, then the pipeline completes and every epoch metric is logged exactly once', (t) => mlflowOutage(s, t));
  it('when the Temporal dev server is restarted on the same database mid-pipeline, then the workflow continues from its history and completes', (t) => temporalRestart(s, t));
  it('when the same pipeline is started twice at once, then it runs once: one workflow, one train activity, one trainer start, one MLflow run', (t) => doubleStart(s, t));
  it('when the checkpoint disk is full, then the trainer fails with a clear ENOSPC error, and once space frees the retry completes the pipeline', (t) => checkpointDiskFull(s, t));
  it('when last.pt is truncated after a crash, then it is never resumed from: the activity sets it aside as .corrupt and training starts clean', (t) => truncatedCheckpoint(s, t));
});
