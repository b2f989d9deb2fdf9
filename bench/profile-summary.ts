/**
 * Summarises V8 .cpuprofile files (what `node --cpu-prof` writes) into self time by function and by module, so a
 * profile can be read in a terminal and quoted in a report:
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 * Each sample is charged the time until the next one; "(idle)" is the event loop waiting.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  /** Microseconds between consecutive samples (the first: since startTime). */
  timeDeltas: number[];
  /** Microseconds on the monotonic clock, the one process.hrtime reads. */
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  /** Microseconds by "function  module:line". */
  byFunction: Map<string, number>;
  /** Microseconds by module (a package, a node: module, a file of this repo). */
  byModule: Map<string, number>;
  totalUs: number;
}

function moduleOf(url: string): string {
  if (!url) return '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return url;
  const own = /\/main\/(.+)$/.exec(url);
  return own ? own[1] : url;
}

/** Monotonic microseconds, from `fromUs` up to `toUs`. */
export interface Window {
  fromUs: number;
  toUs: number;
}

/** Self time of the samples taken within `windows` (the whole profile by default). */
export function selfTime(profile: Profile, windows: readonly Window[] = [{ fromUs: -Infinity, toUs: Infinity }]): SelfTime {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  let totalUs = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i];
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (us <= 0 || !windows.some((w) => at >= w.fromUs && at < w.toUs)) continue;
    const f = nodes.get(profile.samples[i])!.callFrame;
    const mod = moduleOf(f.url);
    const key = `${f.functionName || '(anonymous)'}  ${mod}:${f.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    byModule.set(mod, (byModule.get(mod) ?? 0) + us);
    totalUs += us;
  }
  return { byFunction, byModule, totalUs };
}

export const largest = (m: Map<string, number>, top: number) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);

export function summarise(profile: Profile, top: number): string {
  const t = selfTime(profile);
  const fmt = (m: Map<string, number>) =>
    largest(m, top)
      .map(([k, us]) => `${((us / t.totalUs) * 100).toFixed(1).padStart(5)} %  ${k}`)
      .join('\n');
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  return `${profile.samples.length} samples over ${seconds.toFixed(1)} s\n-- self time by function --\n${fmt(t.byFunction)}\n-- self time by module --\n${fmt(t.byModule)}`;
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
  console.log(summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(top ?? 25)));
}
