import { hostname } from 'node:os';
import type { ReplicaIdentity } from '../../../lib/inference-admin/wire';
import type { ServiceContext } from '../context';

/** When this process started serving (the module loads with the service), for the first service in it. */
const processStartedAt = new Date().toISOString();
const identities = new WeakMap<ServiceContext, ReplicaIdentity>();

/**
 * Who answers: FEROPS_REPLICA_ID, or host:pid (a pod's or a container's hostname is unique in its fleet). Tests run
 * several services in one process; each after the first gets its own suffix and start time, because fleet merges
 * refuse two answers from one replica.
 */
export function replicaIdentity(ctx: ServiceContext): ReplicaIdentity {
  let identity = identities.get(ctx);
  if (!identity) {
    const base = ctx.config.replicaId || `${hostname()}:${process.pid}`;
    const nth = ++servicesInProcess;
    identity = nth === 1 ? { id: base, startedAt: processStartedAt } : { id: `${base}#${nth}`, startedAt: new Date().toISOString() };
    identities.set(ctx, identity);
  }
  return identity;
}

let servicesInProcess = 0;
