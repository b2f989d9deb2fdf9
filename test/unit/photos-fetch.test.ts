import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';

const ROOT = join(__dirname, '..', '..');

/** One process fetching the test photos into the cache under `tmp` (os.tmpdir() follows TMPDIR). */
async function fetchIn(tmp: string): Promise<Record<string, unknown>> {
  const script = "const { getPhotos } = require('./infra/photos'); console.log(JSON.stringify(getPhotos()));";
  const { stdout } = await promisify(execFile)(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
    cwd: ROOT,
    env: { ...process.env, TMPDIR: tmp },
    timeout: 300_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('test photo cache', () => {
  it('when two processes fetch the photos into an empty cache at once, then both get every photo and no staging dir is left', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'ferops-photos-race-'));
    try {
      const [a, b] = await Promise.all([fetchIn(tmp), fetchIn(tmp)]);
      assert.deepEqual(a, b);
      const photos = a as { samples: string[]; astronaut: string; graceHopper: string };
      assert.ok(photos.samples.length >= 6, `samples: ${photos.samples}`);
      for (const file of [...photos.samples, photos.astronaut, photos.graceHopper]) assert.ok(existsSync(file), file);
      const cache = join(tmp, 'ferops-test-photos');
      const leftovers = [...readdirSync(cache), ...readdirSync(join(cache, 'deb')).flatMap((p) => readdirSync(join(cache, 'deb', p)))];
      assert.deepEqual(leftovers.filter((f) => f.includes('.tmp-')), []);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
