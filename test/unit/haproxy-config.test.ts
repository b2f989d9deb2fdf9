import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { haproxyConfig, type HaproxyConfigOptions } from '../../infra/processes/haproxy';

const base: HaproxyConfigOptions = {
  port: 8080,
  servers: ['http://127.0.0.1:9001', 'http://127.0.0.1:9002/', 'http://127.0.0.1:9003'],
  healthPath: '/readyz',
  stateFile: '/tmp/state',
};
const lines = (cfg: string) => cfg.split('\n').map((l) => l.trim());
const haproxyInstalled = (() => {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('HAProxy configuration', () => {
  it('when three replicas are given, then each is a health-checked server of one round-robin backend on 127.0.0.1', () => {
    const cfg = lines(haproxyConfig(base));
    assert.ok(cfg.includes('bind 127.0.0.1:8080'));
    assert.ok(cfg.includes('balance roundrobin'));
    assert.ok(cfg.includes('option httpchk GET /readyz'));
    assert.ok(cfg.includes('default-server check inter 500 fall 2 rise 1'));
    assert.deepEqual(cfg.filter((l) => l.startsWith('server ')), [
      'server 127.0.0.1:9001 127.0.0.1:9001',
      'server 127.0.0.1:9002 127.0.0.1:9002',
      'server 127.0.0.1:9003 127.0.0.1:9003',
    ]);
  });

  it('when a replica dies mid-request, then the settings that retry it elsewhere are all there', () => {
    const cfg = lines(haproxyConfig(base));
    for (const l of [
      'retry-on conn-failure empty-response response-timeout 503',
      'option http-buffer-request',
      'retries 3',
      'option redispatch 1',
      'http-reuse safe',
      'timeout client 60s',
      'timeout server 10s',
      'stick store-response res.hdr(x-request-id)',
      "stick match req.body,json_query('$.requestId') if { path /v1/feedback }",
      'option idle-close-on-response',
      'load-server-state-from-file global',
      'server-state-file /tmp/state',
    ]) {
      assert.ok(cfg.includes(l), `missing "${l}"`);
    }
    assert.ok(cfg.includes(`tune.bufsize ${1024 * 1024}`));
    assert.ok(lines(haproxyConfig({ ...base, bufferBytes: 65536 })).includes('tune.bufsize 65536'));
  });

  it('when there is no replica, then the backend has no server (HAProxy answers 503)', () => {
    assert.equal(lines(haproxyConfig({ ...base, servers: [] })).filter((l) => l.startsWith('server ')).length, 0);
  });

  it('when a replica is not http://host:port or is listed twice, or the health path is not a path, then it throws naming it', () => {
    for (const bad of ['https://127.0.0.1:9001', 'http://127.0.0.1', 'http://127.0.0.1:9001/v1', 'http://127.0.0.1:9001/?a=1']) {
      assert.throws(() => haproxyConfig({ ...base, servers: [bad] }), new RegExp(bad.replace(/[.?/]/g, '\\$&')));
    }
    assert.throws(() => haproxyConfig({ ...base, servers: ['http://127.0.0.1:9001', 'http://127.0.0.1:9001/'] }), /listed twice/);
    assert.throws(() => haproxyConfig({ ...base, healthPath: 'readyz' }), /healthPath/);
    assert.throws(() => haproxyConfig({ ...base, healthPath: '/ready z' }), /healthPath/);
  });

  it('when HAProxy is installed, then it accepts the configuration', { skip: !haproxyInstalled && 'haproxy is not installed' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'haproxy-config-'));
    try {
      const file = join(dir, 'haproxy.cfg');
      writeFileSync(file, haproxyConfig({ ...base, stateFile: join(dir, 'state') }));
      execFileSync('haproxy', ['-c', '-q', '-f', file], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
