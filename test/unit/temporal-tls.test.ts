import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../lib/config';
import { temporalTls } from '../../lib/temporal-tls';

const dir = mkdtempSync(join(tmpdir(), 'temporal-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const pem = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

describe('Temporal mTLS settings', () => {
  it('when no TLS file is configured, then the connection stays plain (the embedded dev server)', () => {
    assert.equal(temporalTls(loadConfig({})), undefined);
  });
  it('when a client certificate, its key and a CA are configured, then the connection presents them', () => {
    const tls = temporalTls(loadConfig({
      FEROPS_TEMPORAL_TLS_CERT: pem('client.pem', 'CERT'), FEROPS_TEMPORAL_TLS_KEY: pem('client.key', 'KEY'),
      FEROPS_TEMPORAL_TLS_CA: pem('ca.pem', 'CA'), FEROPS_TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    }));
    assert.equal(tls?.clientCertPair?.crt.toString(), 'CERT');
    assert.equal(tls?.clientCertPair?.key.toString(), 'KEY');
    assert.equal(tls?.serverRootCACertificate?.toString(), 'CA');
    assert.equal(tls?.serverNameOverride, 'temporal.internal');
  });
  it('when a certificate comes without its key, or a file cannot be read, then start-up fails naming the setting', () => {
    assert.throws(() => temporalTls(loadConfig({ FEROPS_TEMPORAL_TLS_CERT: pem('c2.pem', 'CERT') })), /FEROPS_TEMPORAL_TLS_KEY go together/);
    assert.throws(() => temporalTls(loadConfig({ FEROPS_TEMPORAL_TLS_CA: join(dir, 'missing.pem') })), /FEROPS_TEMPORAL_TLS_CA: cannot read/);
  });
});
