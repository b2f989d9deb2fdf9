import { Client, Connection } from '@temporalio/client';
import type { FeropsConfig } from '../../lib/config';
import { temporalTls } from '../../lib/temporal-tls';

type ClientConfig = Pick<FeropsConfig, 'temporalAddress' | 'temporalNamespace' | 'temporalTlsCert' | 'temporalTlsKey' | 'temporalTlsCa' | 'temporalTlsServerName'>;

export async function connectClient(config: ClientConfig): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporalAddress, tls: temporalTls(config) }).catch((e: Error) => {
    throw new Error(`cannot reach Temporal at ${config.temporalAddress} (${e.message}); start the stack with: npm run ferops -- stack up`);
  });
  return new Client({ connection, namespace: config.temporalNamespace });
}
