import { Client, Connection } from '@temporalio/client';
import type { FeropsConfig } from '../../lib/config';

export async function connectClient(config: Pick<FeropsConfig, 'temporalAddress' | 'temporalNamespace'>): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporalAddress }).catch((e: Error) => {
    throw new Error(`cannot reach Temporal at ${config.temporalAddress} (${e.message}); start the stack with: npm run ferops -- stack up`);
  });
  return new Client({ connection, namespace: config.temporalNamespace });
}
