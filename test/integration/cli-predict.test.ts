import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../../infra/processes/managed-process';
import { startHaproxy, type HaproxyServer } from '../../infra/processes/haproxy';
import { REPO_ROOT } from '../../lib/paths';

// `ferops predict` when what it needs is not there: the file, the service, or a ready replica behind the load
// balancer. Each answer names what failed and where, not a JSON parser's complaint. (The service's own refusals
// are checked beside the try-it page, in inference-page.test.ts.)
describe('ferops predict when the file or the service is not there', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferops-cli-predict-'));
  const image = join(dir, 'face.png');
  let haproxy: HaproxyServer;
  const predict = (...args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services/cli/main.ts'), 'predict', ...args], { cwd: REPO_ROOT });
  const refusal = async (...args: string[]): Promise<string> => {
    const err = await predict(...args).then(() => assert.fail('predict succeeded'), (e: { code: number; stderr: string }) => e);
    assert.equal(err.code, 1);
    return err.stderr;
  };

  before(async () => {
    writeFileSync(image, 'bytes the CLI never gets to send');
    // A real HAProxy whose one replica is down: it answers every request with its own HTML 503 page.
    haproxy = await startHaproxy({ dir: join(dir, 'haproxy'), servers: [`http://127.0.0.1:${await freePort()}`], healthPath: '/readyz' });
  });
  after(async () => {
    await haproxy?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the file is a directory or missing, then it says it cannot read that path', async () => {
    assert.match(await refusal(dir, '--url', haproxy.url), new RegExp(`^ferops: cannot read ${dir}: EISDIR`));
    assert.match(await refusal(join(dir, 'missing.jpg'), '--url', haproxy.url), /^ferops: cannot read .*missing\.jpg: ENOENT/);
  });

  it('when nothing listens at the address, then it names the address and how to start the stack', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    assert.match(await refusal(image, '--url', url), new RegExp(`^ferops: cannot reach the inference service at ${url} \\(connect ECONNREFUSED .*\\); start the stack with: npm run ferops -- stack up`));
  });

  it('when the load balancer answers for want of a ready replica, then it shows that answer, not a JSON parse error', async () => {
    const stderr = await refusal(image, '--url', haproxy.url);
    assert.match(stderr, new RegExp(`^ferops: predict failed \\(503\\) at ${haproxy.url}: .*503 Service Unavailable`));
    assert.doesNotMatch(stderr, /JSON/);
  });

  // In both, the load balancer's answer shows the file was found and sent: only `dir` holds a face.png.
  it('when typed as `npm run ferops` in another directory, then a relative image path names the file in that directory', async () => {
    const err = await promisify(execFile)('npm', ['--prefix', REPO_ROOT, 'run', '-s', 'ferops', '--', 'predict', 'face.png', '--url', haproxy.url], { cwd: dir })
      .then(() => assert.fail('predict succeeded'), (e: { code: number; stderr: string }) => e);
    assert.equal(err.code, 1);
    assert.match(err.stderr, new RegExp(`^ferops: predict failed \\(503\\) at ${haproxy.url}`));
  });

  it('when the ferops binary runs from a directory outside the repository, then it starts and reads the relative path there', async () => {
    const err = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'services/cli/bin/ferops.cjs'), 'predict', 'face.png', '--url', haproxy.url], { cwd: dir })
      .then(() => assert.fail('predict succeeded'), (e: { code: number; stderr: string }) => e);
    assert.equal(err.code, 1);
    assert.match(err.stderr, new RegExp(`^ferops: predict failed \\(503\\) at ${haproxy.url}`));
  });
});
