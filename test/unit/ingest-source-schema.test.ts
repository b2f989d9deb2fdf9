import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ApplicationFailure, type Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { IngestError } from '../../activities/ingest';
import { parseDatasetSource } from '../../activities/ingest/source-schema';
import { sources } from '../../activities/ingest/sources';
import { KAGGLE_API_BASE, kaggleDownloadUrl } from '../../activities/ingest/sources/kaggle';
import { createIngestActivity } from '../../activities/ingest';
import type { PipelineRunContext } from '../../activities/pipeline/pipeline-run';
import type { IngestInput } from '../../activities/types';
import { loadConfig } from '../../lib/config';

const dir = mkdtempSync(join(tmpdir(), 'ingest-source-schema-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const badSource = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof IngestError, String(err));
  assert.equal(err.code, 'bad_source');
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, pattern);
  return true;
};

describe('dataset source schema', () => {
  it('when a source has only the keys of its kind, then it passes unchanged', () => {
    for (const s of [
      { kind: 'synthetic', size: 400, seed: 3, difficulty: 0.5, balance: 'uniform' },
      { kind: 'synthetic' },
      { kind: 'fer2013-csv', path: '/data/fer2013.csv' },
      { kind: 'image-folder', path: 'file:///data/faces' },
      { kind: 'kaggle', slug: 'msambare/fer2013' },
      { kind: 'kaggle', slug: 'msambare/fer2013', file: 'fer2013.csv' },
    ]) assert.deepEqual(parseDatasetSource(s), s);
  });

  it('when a kaggle source carries apiBase, then it is refused as bad_source naming the key', () => {
    assert.throws(() => parseDatasetSource({ kind: 'kaggle', slug: 'a/b', apiBase: 'https://attacker.example/api/v1' }),
      badSource(/invalid kaggle source: .*'apiBase'/));
  });

  it('when any kind carries a key it does not define, then it is refused', () => {
    for (const s of [{ kind: 'synthetic', url: 'x' }, { kind: 'fer2013-csv', path: 'a.csv', headers: {} }, { kind: 'image-folder', path: 'a', token: 't' }]) {
      assert.throws(() => parseDatasetSource(s), badSource(/Unrecognized key/), JSON.stringify(s));
    }
  });

  it('when any registered source module is given a key its schema does not define, then it is refused', () => {
    // Holds for a module added later too: the registry, not this list, says which kinds exist.
    for (const m of sources) {
      assert.throws(() => parseDatasetSource({ kind: m.kind, endpoint: 'https://attacker.example' }), badSource(new RegExp(`invalid ${m.kind} source: .*'endpoint'`)), m.kind);
    }
  });

  it('when a field has the wrong type or the kind is unknown, then the message says which', () => {
    assert.throws(() => parseDatasetSource({ kind: 'kaggle', slug: 7 }), badSource(/invalid kaggle source: slug: Expected string/));
    assert.throws(() => parseDatasetSource({ kind: 'fer2013-csv' }), badSource(/path: Required/));
    assert.throws(() => parseDatasetSource({ kind: 'ftp' }), badSource(/unknown ingest source kind "ftp"; expected synthetic, fer2013-csv, image-folder or kaggle/));
    assert.throws(() => parseDatasetSource(null), badSource(/unknown ingest source kind undefined/));
  });
});

describe('Kaggle endpoint from configuration', () => {
  it('when FEROPS_KAGGLE_API_BASE is unset, then the real Kaggle API is used; when set, then it replaces it', () => {
    assert.equal(loadConfig({}).kaggleApiBase, 'https://www.kaggle.com/api/v1');
    assert.equal(KAGGLE_API_BASE, 'https://www.kaggle.com/api/v1');
    assert.equal(loadConfig({ FEROPS_KAGGLE_API_BASE: 'http://127.0.0.1:9/api/v1' }).kaggleApiBase, 'http://127.0.0.1:9/api/v1');
    assert.throws(() => loadConfig({ FEROPS_KAGGLE_API_BASE: 'file:///etc' }), /kaggleApiBase/);
    assert.equal(kaggleDownloadUrl({ slug: 'a/b' }, 'http://127.0.0.1:9/api/v1/'), 'http://127.0.0.1:9/api/v1/datasets/download/a/b');
  });
});

describe('ingest activity', () => {
  it('when the workflow input names a Kaggle endpoint, then the activity fails with a non-retryable BadInput', async () => {
    // Refused before any MLflow call or download: the run context is never touched.
    const ingest = createIngestActivity({} as PipelineRunContext, dir, { kaggleApiBase: 'http://127.0.0.1:9/api/v1' });
    const input = { workflowId: 'wf-bad-input', modelName: 'm', source: { kind: 'kaggle', slug: 'a/b', apiBase: 'https://attacker.example' } } as unknown as IngestInput;
    const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
    await assert.rejects(new MockActivityEnvironment({}, { logger: quiet }).run(ingest, input), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.type, 'BadInput');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /bad_source: invalid kaggle source: .*'apiBase'/);
      return true;
    });
  });
});
