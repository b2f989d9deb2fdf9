import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTrainerLine } from '../../activities/train/trainer-events';
import { renderProgress } from '../../services/cli/progress-line';

describe('trainer JSON lines', () => {
  it('when a line is an event, then it is parsed', () => {
    assert.deepEqual(parseTrainerLine('{"event":"checkpoint","epoch":2,"step":40,"path":"/x/last.pt"}\n'), { event: 'checkpoint', epoch: 2, step: 40, path: '/x/last.pt' });
  });
  it('when a line is a stray print or broken JSON, then it is ignored rather than thrown', () => {
    assert.equal(parseTrainerLine('Downloading weights...'), null);
    assert.equal(parseTrainerLine('{"event":'), null);
    assert.equal(parseTrainerLine('{"no_event":1}'), null);
  });
});

describe('progress line', () => {
  it('when training, then it shows epoch, loss and a bar over epochs', () => {
    const line = renderProgress({ status: 'RUNNING', progress: { stage: 'train', stages: [] }, training: { epoch: 3, epochs: 6, loss: 1.23456, valAccuracy: 0.5 } }, 10);
    assert.match(line, /^\[#####\.\.\.\.\.\]  train/);
    assert.match(line, /epoch 3\/6/);
    assert.match(line, /loss 1\.2346/);
  });
  it('when the workflow is closed, then its status is shown', () => {
    assert.match(renderProgress({ status: 'FAILED', progress: { stage: 'evaluate', stages: [] } }), /\(FAILED\)/);
  });
});
