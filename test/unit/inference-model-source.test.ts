import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AppError } from '../../services/inference/errors';
import { createModelSource, type RegistryClient } from '../../services/inference/runtime/model-source';

const MODEL_BYTES = Buffer.from('pretend this is an onnx graph');
const SHA = createHash('sha256').update(MODEL_BYTES).digest('hex');

/** A registry with model "fer": version 3 under alias champion; counts downloads. */
function fakeRegistry(opts: { tagSha?: string; bytes?: Buffer; fail?: Error } = {}) {
  const calls = { downloads: 0 };
  const tags = opts.tagSha ? [{ key: 'ferops.model_sha256', value: opts.tagSha }] : [];
  const client: RegistryClient = {
    async getModelVersionByAlias(name, alias) {
      return name === 'fer' && alias === 'champion' ? { version: '3', tags } : null;
    },
    async getModelVersion(name, version) {
      if (name !== 'fer') throw Object.assign(new Error('RESOURCE_DOES_NOT_EXIST'), { status: 404 });
      return { version, tags };
    },
    async downloadModelVersion(_name, _version, destDir) {
      calls.downloads++;
      if (opts.fail) throw opts.fail;
      mkdirSync(destDir, { recursive: true });
      writeFileSync(join(destDir, 'model.onnx'), opts.bytes ?? MODEL_BYTES);
      writeFileSync(join(destDir, 'labels.json'), '[]');
    },
  };
  return { client, calls };
}

const scratch: string[] = [];
after(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));

const setup = (registry: RegistryClient) => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'ferops-ms-cache-'));
  const modelsRoot = mkdtempSync(join(tmpdir(), 'ferops-ms-models-'));
  scratch.push(cacheDir, modelsRoot);
  return { cacheDir, modelsRoot, source: createModelSource({ modelDirs: [modelsRoot], cacheDir, registry: () => registry }) };
};

const code = (c: string) => (err: unknown) => err instanceof AppError && err.code === c;

describe('model source', () => {
  it('when an alias is resolved, then the version is downloaded into the cache once and reused', async () => {
    const { client, calls } = fakeRegistry({ tagSha: SHA });
    const { source, cacheDir } = setup(client);
    const first = await source.resolve('models:/fer@champion');
    assert.equal(first.version, '3', 'the registry version number, as the pipeline names it');
    assert.equal(first.dir, join(cacheDir, 'fer', '3'));
    assert.equal(readFileSync(join(first.dir, '.ferops-sha256'), 'utf8'), SHA);
    const again = await source.resolve('models:/fer/3');
    assert.equal(again.dir, first.dir);
    assert.equal(calls.downloads, 1);
  });

  it('when the cached file was altered, then it is downloaded again', async () => {
    const { client, calls } = fakeRegistry();
    const { source } = setup(client);
    const { dir } = await source.resolve('models:/fer/3');
    writeFileSync(join(dir, 'model.onnx'), 'tampered');
    await source.resolve('models:/fer/3');
    assert.equal(calls.downloads, 2);
    assert.equal(readFileSync(join(dir, 'model.onnx'), 'utf8'), MODEL_BYTES.toString());
  });

  it('when the download does not match the registry checksum, then 422 checksum_mismatch and nothing is cached', async () => {
    const { client } = fakeRegistry({ tagSha: SHA, bytes: Buffer.from('something else') });
    const { source, cacheDir } = setup(client);
    await assert.rejects(source.resolve('models:/fer/3'), code('checksum_mismatch'));
    assert.equal(existsSync(join(cacheDir, 'fer', '3')), false);
  });

  it('when the alias or model is unknown, or the registry is down, then 404 / 502 with the source named', async () => {
    const { source } = setup(fakeRegistry().client);
    await assert.rejects(source.resolve('models:/fer@nope'), code('model_not_found'));
    await assert.rejects(source.resolve('models:/other/1'), code('model_not_found'));
    const down = setup(fakeRegistry({ fail: new Error('connect ECONNREFUSED') }).client).source;
    await assert.rejects(down.resolve('models:/fer/3'), (err: unknown) => err instanceof AppError && err.status === 502 && /ECONNREFUSED/.test(err.message));
  });

  it('when a registry URI is malformed, then 400 invalid_source', async () => {
    const { source } = setup(fakeRegistry().client);
    for (const uri of ['models:/', 'models:/fer', 'models:/fer/x', 'models:/../x/1', 'models:/fer@']) {
      await assert.rejects(source.resolve(uri), code('invalid_source'), uri);
    }
  });

  it('when a local dir is inside FEROPS_MODEL_DIRS, then it resolves; the root itself and outside paths do not', async () => {
    const { source, modelsRoot } = setup(fakeRegistry().client);
    mkdirSync(join(modelsRoot, 'm1'));
    assert.equal((await source.resolve(join(modelsRoot, 'm1'))).version, 'm1');
    await assert.rejects(source.resolve(modelsRoot), code('source_not_allowed'));
    await assert.rejects(source.resolve(join(modelsRoot, 'm1', '..', '..')), code('source_not_allowed'));
    await assert.rejects(source.resolve(tmpdir()), code('source_not_allowed'));
  });
});
