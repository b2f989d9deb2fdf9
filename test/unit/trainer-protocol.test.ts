import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTrainerLine } from '../../activities/train/trainer-events';
import { classifyFailure, describeFailure, type FailureVerdict } from '../../activities/train/trainer-failure';
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

describe('trainer failures: retry or not', () => {
  const failed = (exitCode: number | null, error?: { code: string; message: string }, signal: NodeJS.Signals | null = null) =>
    ({ exitCode, signal, error, stderrTail: 'Traceback ...' });

  it('when the input is bad or the fp32 export is broken, then the first failure is final', () => {
    assert.deepEqual(pick(classifyFailure(failed(2, { code: 'bad_dataset', message: 'no train split' }), undefined)), ['BadInput', false]);
    const parity = classifyFailure(failed(3, { code: 'parity_failed', message: 'fp32 ONNX logits differ' }), undefined);
    assert.deepEqual(pick(parity), ['ParityFailed', false]);
    assert.match(parity.message, /fp32 ONNX logits differ/);
  });
  it('when the trainer is interrupted or killed, then it is retried however often it happens', () => {
    assert.deepEqual(pick(classifyFailure(failed(75), 'exit 75: ...')), ['TrainerInterrupted', true]);
    const killed = failed(null, undefined, 'SIGKILL');
    assert.deepEqual(pick(classifyFailure(killed, describeFailure(killed))), ['TrainerFailed', true]);
  });
  it('when an unexpected error repeats word for word on the next attempt, then it is final', () => {
    const oom = failed(1, { code: 'internal', message: 'RuntimeError: CUDA out of memory' });
    assert.deepEqual(pick(classifyFailure(oom, undefined)), ['TrainerFailed', true]);
    assert.deepEqual(pick(classifyFailure(oom, 'internal: OSError: connection reset')), ['TrainerFailed', true]);
    assert.deepEqual(pick(classifyFailure(oom, describeFailure(oom))), ['TrainerFailedTwice', false]);
  });
});

const pick = (v: FailureVerdict) => [v.type, v.retryable];
