import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, DEFAULT_PIPELINE_INPUT, withDefaults } from '../../lib/pipeline-input';
import { pipelineIdFor } from '../../services/cli/pipeline-runner';
import { trainOverrides } from '../../services/cli/commands/train';
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

describe('ferops train flags', () => {
  it('when a CSV path and epochs are given, then the dataset kind and trainer config follow', () => {
    const o = trainOverrides(parseArgs(['--dataset', '/d/fer2013.csv', '--epochs', '3', '--lr', '5e-5', '--approval']).flags);
    assert.deepEqual(o.dataset, { kind: 'fer2013-csv', path: '/d/fer2013.csv' });
    assert.deepEqual(o.trainer, { train: { epochs: 3, lr: 5e-5 } });
    assert.equal(o.rollout?.approval, 'required');
  });
  it('when a number flag is not a number, then it fails with the flag named', () => {
    assert.throws(() => trainOverrides(parseArgs(['--epochs', 'many']).flags), /--epochs needs a number/);
  });
  it('when kaggle:<slug> is given, then the source is kaggle', () => {
    assert.deepEqual(trainOverrides(parseArgs(['--dataset=kaggle:msambare/fer2013']).flags).dataset, { kind: 'kaggle', slug: 'msambare/fer2013' });
  });
});
