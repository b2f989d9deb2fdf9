import { readFileSync } from 'node:fs';
import type { FeropsConfig } from './config';

/** The TLS settings of a Temporal connection (the SDK's TLSConfig shape, shared by Connection and NativeConnection). */
export interface TemporalTls {
  serverRootCACertificate?: Buffer;
  serverNameOverride?: string;
  clientCertPair?: { crt: Buffer; key: Buffer };
}

type TlsKeys = Pick<FeropsConfig, 'temporalTlsCert' | 'temporalTlsKey' | 'temporalTlsCa' | 'temporalTlsServerName'>;

/**
 * mTLS to a Temporal frontend that requires client certificates (the worker and the CLI), from PEM files named in
 * the configuration; undefined (plain gRPC, as the embedded dev server speaks) when none is set.
 */
export function temporalTls(c: TlsKeys): TemporalTls | undefined {
  if (!c.temporalTlsCert && !c.temporalTlsKey && !c.temporalTlsCa) return undefined;
  if (!c.temporalTlsCert !== !c.temporalTlsKey) {
    throw new Error('FEROPS_TEMPORAL_TLS_CERT and FEROPS_TEMPORAL_TLS_KEY go together: a client certificate needs its key');
  }
  const read = (key: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${key}: cannot read ${path} (${(err as Error).message})`);
    }
  };
  return {
    ...(c.temporalTlsCa ? { serverRootCACertificate: read('FEROPS_TEMPORAL_TLS_CA', c.temporalTlsCa) } : {}),
    ...(c.temporalTlsServerName ? { serverNameOverride: c.temporalTlsServerName } : {}),
    ...(c.temporalTlsCert ? { clientCertPair: { crt: read('FEROPS_TEMPORAL_TLS_CERT', c.temporalTlsCert), key: read('FEROPS_TEMPORAL_TLS_KEY', c.temporalTlsKey!) } } : {}),
  };
}
