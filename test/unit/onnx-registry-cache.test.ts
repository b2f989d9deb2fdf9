import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ModelArtifactError } from '../../lib/onnx/model-error';
import { cachedRegistryVersion, MODEL_SHA256_TAG, pruneRegistryCache, type VersionDownloader } from '../../lib/onnx/registry-cache';

const root = mkdtempSync(join(tmpdir(), 'onnx-registry-cache-'));
after(() => rmSync(root, { recursive: true, force: true }));

const ONNX = Buffer.from('not really onnx, only bytes to hash');
const SHA = createHash('sha256').update(ONNX).digest('hex');

/** A registry that writes model.onnx (or nothing) and counts its downloads. */
function registry(bytes: Buffer | null = ONNX): VersionDownloader & { downloads: number } {
  return {
    downloads: 0,
    async downloadModelVersion(_name, _version, destDir) {
      this.downloads++;
      mkdirSync(destDir, { recursive: true });
      if (bytes) writeFileSync(join(destDir, 'model.onnx'), bytes);
      writeFileSync(join(destDir, 'labels.json'), '[]');
    },
  };
}

const failsWith = (code: ModelArtifactError['code'], pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof ModelArtifactError, String(err));
  assert.equal(err.code, code);
  assert.match(err.message, pattern);
  return true;
};

describe('registry version cache (lib/onnx/registry-cache.ts)', () => {
  it('when the download matches the registry checksum, then it is cached once and reused', async () => {
    const cache = join(root, 'ok');
    const r = registry();
    const mv = { name: 'fer', version: '3', tags: [{ key: MODEL_SHA256_TAG, value: SHA.toUpperCase() }] };
    const dir = await cachedRegistryVersion(r, cache, mv);
    assert.equal(dir, join(cache, 'fer', '3'));
    assert.equal(await cachedRegistryVersion(r, cache, mv), dir);
    assert.equal(r.downloads, 1);
  });

  it('when the cached model.onnx was altered, then it is downloaded again', async () => {
    const cache = join(root, 'tampered');
    const r = registry();
    const mv = { name: 'fer', version: '1', tags: [{ key: MODEL_SHA256_TAG, value: SHA }] };
    const dir = await cachedRegistryVersion(r, cache, mv);
    writeFileSync(join(dir, 'model.onnx'), 'changed on disk');
    await cachedRegistryVersion(r, cache, mv);
    assert.equal(r.downloads, 2);
  });

  it('when the download does not match the checksum or holds no model.onnx, then it is refused and nothing is left behind', async () => {
    const cache = join(root, 'bad');
    await assert.rejects(
      cachedRegistryVersion(registry(Buffer.from('other bytes')), cache, { name: 'fer', version: '2', tags: [{ key: 'sha256', value: SHA }] }),
      failsWith('checksum_mismatch', new RegExp(`does not match the registry's ${SHA}`)),
    );
    await assert.rejects(cachedRegistryVersion(registry(null), cache, { name: 'fer', version: '2' }), failsWith('invalid_model', /hold no model\.onnx/));
    assert.deepEqual(existsSync(join(cache, 'fer')) ? readdirSync(join(cache, 'fer')) : [], []);
  });

  it('when the name or version could leave the cache directory, then it is refused before any download', async () => {
    const r = registry();
    await assert.rejects(cachedRegistryVersion(r, root, { name: '../etc', version: '1' }), failsWith('invalid_model', /cannot name a cache directory/));
    await assert.rejects(cachedRegistryVersion(r, root, { name: 'fer', version: '../1' }), failsWith('invalid_model', /registry returned version/));
    assert.equal(r.downloads, 0);
  });

  it('when pruned, then every version but the kept ones goes, and downloads abandoned for an hour, never one under way', async () => {
    const cache = join(root, 'prune');
    const r = registry();
    const dirs = await Promise.all(['1', '2', '3'].map((version) => cachedRegistryVersion(r, cache, { name: 'fer', version })));
    await cachedRegistryVersion(r, cache, { name: 'other', version: '7' });
    const abandoned = join(cache, 'fer', '4.download-123-456');
    const underWay = join(cache, 'fer', '5.download-789-1011');
    for (const d of [abandoned, underWay]) mkdirSync(d);
    const twoHoursAgo = (Date.now() - 2 * 3600_000) / 1000;
    utimesSync(abandoned, twoHoursAgo, twoHoursAgo);
    writeFileSync(join(cache, 'fer', 'notes.txt'), 'not a version: left alone');

    const removed = await pruneRegistryCache(cache, [dirs[0], `${dirs[2]}/`, '/elsewhere/local-model']);
    assert.deepEqual(removed.sort(), ['fer/2', 'fer/4.download-123-456', 'other/7']);
    assert.deepEqual(readdirSync(join(cache, 'fer')).sort(), ['1', '3', '5.download-789-1011', 'notes.txt']);
    assert.deepEqual(await pruneRegistryCache(join(root, 'no-such-cache'), []), [], 'a cache not made yet is no error');
  });

  it('when pruned with unusedForMs (a cache processes share), then only versions no process fetched for that long go', async () => {
    const cache = join(root, 'shared');
    const r = registry();
    const [old, recent, used] = await Promise.all(['1', '2', '3'].map((version) => cachedRegistryVersion(r, cache, { name: 'fer', version })));
    const twoDaysAgo = (Date.now() - 48 * 3600_000) / 1000;
    for (const d of [old, used]) utimesSync(d, twoDaysAgo, twoDaysAgo);
    await cachedRegistryVersion(r, cache, { name: 'fer', version: '3' }); // another process reading version 3 now
    const removed = await pruneRegistryCache(cache, [], { unusedForMs: 24 * 3600_000 });
    assert.deepEqual(removed, ['fer/1']);
    assert.deepEqual(readdirSync(join(cache, 'fer')).sort(), ['2', '3']);
    assert.ok(existsSync(join(recent, 'model.onnx')) && existsSync(join(used, 'model.onnx')));
  });
});
