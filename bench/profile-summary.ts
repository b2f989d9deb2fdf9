/**
 * Summarises V8 .cpuprofile files (what `node --cpu-prof` writes) into self time by function and by module, so a
 * profile can be read in a terminal and quoted in a report:
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 * Self time per node = its sample count x the mean sampling interval; "(idle)" is the event loop waiting.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
}

function moduleOf(url: string): string {
  if (!url) return '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return url;
  const own = /\/main\/(.+)$/.exec(url);
  return own ? own[1] : url;
}

export function summarise(profile: Profile, top: number): string {
  const counts = new Map<number, number>();
  for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const total = profile.samples.length;
  const byFn = new Map<string, number>();
  const byModule = new Map<string, number>();
  for (const node of profile.nodes) {
    const n = counts.get(node.id) ?? 0;
    if (!n) continue;
    const f = node.callFrame;
    const mod = moduleOf(f.url);
    const key = `${f.functionName || '(anonymous)'}  ${mod}:${f.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + n);
    byModule.set(mod, (byModule.get(mod) ?? 0) + n);
  }
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  const fmt = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, n]) => `${((n / total) * 100).toFixed(1).padStart(5)} %  ${k}`)
      .join('\n');
  return `${total} samples over ${seconds.toFixed(1)} s\n-- self time by function --\n${fmt(byFn)}\n-- self time by module --\n${fmt(byModule)}`;
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
  console.log(summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(top ?? 25)));
}
