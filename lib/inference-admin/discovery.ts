import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';

/**
 * Where the fleet's replicas answer their admin API, from FEROPS_INFERENCE_DISCOVERY:
 * - `dns:<host>:<port>`: one replica per address the name resolves to (a compose service name, a Kubernetes
 *   headless Service), looked up anew each time so scaling shows up without a restart;
 * - `file:<path>`: one base URL per line, read anew each time (the embedded stack rewrites it as it scales);
 * - otherwise a comma-separated list of base URLs.
 */
export type Discover = () => Promise<string[]>;

export function discovery(spec: string): Discover {
  const s = spec.trim();
  if (!s) throw new Error('FEROPS_INFERENCE_DISCOVERY is empty: give dns:<host>:<port>, file:<path> or a list of URLs');
  if (s.startsWith('dns:')) {
    const m = /^dns:(.+):(\d{1,5})$/.exec(s);
    if (!m) throw new Error(`FEROPS_INFERENCE_DISCOVERY ${JSON.stringify(s)}: dns discovery looks like dns:<host>:<port>`);
    const [, host, port] = m;
    return async () => {
      const addresses = await lookup(host, { all: true });
      return [...new Set(addresses.map((a) => `http://${a.family === 6 ? `[${a.address}]` : a.address}:${port}`))].sort();
    };
  }
  if (s.startsWith('file:')) {
    const path = s.slice('file:'.length);
    return async () => urls((await readFile(path, 'utf8')).split('\n'), `file ${path}`);
  }
  const list = urls(s.split(','), 'FEROPS_INFERENCE_DISCOVERY');
  return async () => list;
}

function urls(entries: string[], where: string): string[] {
  const list = entries.map((e) => e.trim()).filter(Boolean);
  for (const u of list) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(u)) throw new Error(`${where}: ${JSON.stringify(u)} is not a replica base URL (http://host:port)`);
  }
  return list;
}
