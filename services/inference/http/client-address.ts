import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** The address a request is counted against (rate limits): the peer, or the client a trusted proxy names. */
export type ClientAddress = (req: IncomingMessage) => string;

/** `::ffff:1.2.3.4` (an IPv4 peer on a dual-stack socket) is 1.2.3.4. */
const plain = (address: string): string => (address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address);

/**
 * Without trusted proxies, the socket's peer: X-Forwarded-For is whatever the client wrote and is ignored. With
 * them, X-Forwarded-For is walked from the right (the hop the nearest proxy added) while each hop is a trusted
 * proxy; the first hop that is not one is the client. A hop that is not an IP address stops the walk at the proxy
 * that reported it, so garbage in the header can only lump its sender in with that proxy.
 */
export function clientAddress(trustedProxies: readonly string[]): ClientAddress {
  const peer = (req: IncomingMessage) => plain(req.socket.remoteAddress ?? 'unknown');
  if (trustedProxies.length === 0) return peer;
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const [address, prefix] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) trusted.addAddress(address, family);
    else trusted.addSubnet(address, Number(prefix), family);
  }
  const isTrusted = (address: string) => {
    const family = isIP(address);
    return family !== 0 && trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
  return (req) => {
    let client = peer(req);
    if (!isTrusted(client)) return client;
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((h) => h.trim()).filter(Boolean);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = plain(hops[i]);
      if (isIP(hop) === 0) break;
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return client;
  };
}
