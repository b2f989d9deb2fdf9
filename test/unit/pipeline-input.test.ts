import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, DEFAULT_PIPELINE_INPUT, withDefaults } from '../../lib/pipeline-input';
import { checkPipelineInput, driftMonitorInputProblems } from '../../lib/workflow-input-check';
import { pipelineIdFor } from '../../services/cli/pipeline-runner';
import { TRAIN_ARGS, trainOverrides } from '../../services/cli/commands/train';
import { parseArgs } from '../../services/cli/args';

describe('pipeline input', () => {
  it('when nothing is given, then every documented default is filled in', () => {
    assert.deepEqual(withDefaults(), DEFAULT_PIPELINE_INPUT);
  });
  it('when one threshold is overridden, then the other thresholds keep their defaults', () => {
    const i = withDefaults({ rollout: { thresholds: { maxLatencyRatio: 3 } } });
    assert.equal(i.rollout.thresholds.maxLatencyRatio, 3);
    assert.equal(i.rollout.thresholds.minShadowAgreement, DEFAULT_PIPELINE_INPUT.rollout.thresholds.minShadowAgreement);
    assert.deepEqual(i.rollout.steps, [5, 25, 50, 100]);
  });
  it('when key order differs, then the canonical JSON and the workflow id are the same', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: 2, c: 3 } }), canonicalJson({ a: { c: 3, d: 2 }, b: 1 }));
    assert.equal(pipelineIdFor({ gate: { minAccuracy: 0.5, maxDropVsChampion: 0.1 } }), pipelineIdFor({ gate: { maxDropVsChampion: 0.1, minAccuracy: 0.5 } }));
  });
  it('when the input differs, then the workflow id differs, and it follows train-<model>-<hash>', () => {
    const a = pipelineIdFor({});
    assert.match(a, /^train-ferops-fer-[0-9a-f]{12}$/);
    assert.notEqual(a, pipelineIdFor({ trainer: { train: { epochs: 2 } } }));
    assert.equal(a, pipelineIdFor(withDefaults({})), 'explicit defaults are the same pipeline');
  });
});

describe('pipeline input check', () => {
  const problems = (o: unknown) => checkPipelineInput(o).problems;
  it('when nothing or only valid overrides are given, then the filled-in input passes', () => {
    assert.deepEqual(checkPipelineInput(undefined), { input: DEFAULT_PIPELINE_INPUT });
    assert.equal(problems({ rollout: { steps: [10, 100], windowSeconds: 1, shadowSeconds: 0, maxExtensions: 0 }, gate: { minAccuracy: 0.5 } }), undefined);
  });
  it('when the rollout settings have the wrong types or ranges, then each problem is named by its path', () => {
    assert.equal(problems({ rollout: { steps: '50' } }), 'rollout.steps: Expected array, received string');
    assert.equal(problems({ rollout: { steps: [] } }), 'rollout.steps: Array must contain at least 1 element(s)');
    assert.equal(problems({ rollout: { steps: [50, 150] } }), 'rollout.steps.1: Number must be less than or equal to 100');
    assert.equal(problems({ rollout: { steps: [2.5, 100] } }), 'rollout.steps.0: Expected integer, received float', 'the service takes whole percentages');
    assert.equal(problems({ rollout: { maxExtensions: -1 } }), 'rollout.maxExtensions: Number must be greater than or equal to 0');
    assert.equal(problems({ rollout: { windowSeconds: 'abc' } }), 'rollout.windowSeconds: Expected number, received string');
    assert.equal(problems({ rollout: { thresholds: { minShadowAgreement: 1.5 } } }), 'rollout.thresholds.minShadowAgreement: Number must be less than or equal to 1');
    assert.equal(problems({ gate: { minAccuracy: 5 }, rollout: { approval: 'maybe' } }), "gate.minAccuracy: Number must be less than or equal to 1; rollout.approval: Invalid enum value. Expected 'none' | 'required', received 'maybe'");
  });
  it('when a key is misspelt, then it is refused rather than silently left at its default', () => {
    assert.equal(problems({ rollout: { windowSecond: 30 } }), "rollout: Unrecognized key(s) in object: 'windowSecond'");
    assert.equal(problems({ datset: { kind: 'synthetic' } }), "Unrecognized key(s) in object: 'datset'");
  });
  it('when a phase with its extensions outlasts the window the service reports, then it is refused', () => {
    assert.equal(problems({ rollout: { windowSeconds: 43_200, maxExtensions: 1 } }), undefined);
    assert.match(problems({ rollout: { windowSeconds: 43_200, maxExtensions: 2 } }) ?? '', /^rollout: a phase with its extensions, .* must fit in the 86400 s the service reports$/);
  });
  it('when the overrides are not an object, or the dataset has no kind, then that is the problem', () => {
    assert.equal(problems(null), 'expected an object of overrides, got null');
    assert.equal(problems([1]), 'expected an object of overrides, got [1]');
    assert.equal(problems({ dataset: 'fer2013.csv' }), 'dataset: expected an object with a kind');
  });
});

describe('drift monitor input check', () => {
  it('when the input is absent or valid, then there is no problem', () => {
    assert.equal(driftMonitorInputProblems(undefined), undefined);
    assert.equal(driftMonitorInputProblems({ windowSeconds: 600, psiThreshold: 0.2, minSamples: 100, retrain: { trainer: { train: { epochs: 3 } } } }), undefined);
  });
  it('when a setting is of the wrong type, or the retraining overrides are bad, then the problem is named', () => {
    assert.equal(driftMonitorInputProblems({ psiThreshold: '0.2' }), 'psiThreshold: Expected number, received string');
    assert.equal(driftMonitorInputProblems({ windowSeconds: 0 }), 'windowSeconds: Number must be greater than or equal to 1');
    assert.equal(driftMonitorInputProblems({ retrain: { rollout: { steps: [] } } }), 'retrain: rollout.steps: Array must contain at least 1 element(s)');
  });
});

describe('ferops train flags', () => {
  it('when a CSV path and epochs are given, then the dataset kind and trainer config follow', () => {
    const o = trainOverrides(parseArgs(['--dataset', '/d/fer2013.csv', '--epochs', '3', '--lr', '5e-5', '--approval'], TRAIN_ARGS).flags);
    assert.deepEqual(o.dataset, { kind: 'fer2013-csv', path: '/d/fer2013.csv' });
    assert.deepEqual(o.trainer, { train: { epochs: 3, lr: 5e-5 } });
    assert.equal(o.rollout?.approval, 'required');
  });
  it('when a number flag is not a number, then it fails with the flag named', () => {
    assert.throws(() => trainOverrides(parseArgs(['--epochs', 'many'], TRAIN_ARGS).flags), /--epochs needs a number/);
  });
  it('when kaggle:<slug> is given, then the source is kaggle', () => {
    assert.deepEqual(trainOverrides(parseArgs(['--dataset=kaggle:msambare/fer2013'], TRAIN_ARGS).flags).dataset, { kind: 'kaggle', slug: 'msambare/fer2013' });
  });
});
