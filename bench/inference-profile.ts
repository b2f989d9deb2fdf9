/**
 * Where a crop request's time goes, in the service and in the bare server (bench/bare-ort-server.ts) under the
 * same load, from V8 CPU profiles of both main threads:
 *   node --import tsx bench/inference-profile.ts [concurrency=1] [seconds=4] [rounds=3] [top=25]
 * Both children run with --cpu-prof (the bench model and the service's thread setting, as bench/inference-http.ts).
 * After a warm-up, autocannon posts the 24 real crops (bench/real-inputs.ts) to each for `seconds`, `rounds` times
 * interleaved. Only the samples taken while autocannon ran count, and self time is printed in microseconds per
 * answered request: the service's largest entries, by function and by module, beside the bare server's same entry
 * ("-" where it has none). What the bare server does not do shows as the difference. The profiles stay in the
 * printed directories (open them in Chrome devtools).
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INFERENCE_NODE_FLAGS } from '../services/inference/node-flags';
import { defaultBenchModel } from './bench-models';
import { autocannonRun, cpuProfileFlags, serviceSessionOptions, startBareServer, startService } from './inference-http';
import { largest, type Profile, selfTime, type Window } from './profile-summary';
import { realCrops } from './real-inputs';
import { fmtSpread, interleaved, spread } from './rounds';

type Server = 'service' | 'bare';
const SERVERS: readonly Server[] = ['service', 'bare'];

/** The main thread's profile in `dir` (tsx's loader thread writes its own; thread 0 is the main one). */
function mainThreadProfile(dir: string): Profile {
  const file = readdirSync(dir).find((f) => /\.0\.\d+\.cpuprofile$/.test(f));
  if (!file) throw new Error(`no main-thread profile was written into ${dir}`);
  return JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

async function main(): Promise<void> {
  const [c, seconds, rounds, top] = [1, 4, 3, 25].map((fallback, i) => Number(process.argv[2 + i] ?? fallback));
  const model = defaultBenchModel();
  const modelFile = join(model.dir, 'model.onnx');
  const crops = await realCrops();
  const dirs = { service: mkdtempSync(join(tmpdir(), 'ferops-profile-service-')), bare: mkdtempSync(join(tmpdir(), 'ferops-profile-bare-')) };
  const service = await startService(model.dir, [...cpuProfileFlags(dirs.service), ...INFERENCE_NODE_FLAGS]);
  const bare = await startBareServer(modelFile, (await serviceSessionOptions(modelFile)).intraOpNumThreads ?? 0, cpuProfileFlags(dirs.bare));
  const url = { service: `${service.url}/v1/predict?detect=false`, bare: bare.url };
  const windows: Record<Server, Window[]> = { service: [], bare: [] };
  let results: Record<string, Awaited<ReturnType<typeof autocannonRun>>[]>;
  try {
    for (const s of SERVERS) await autocannonRun(url[s], crops, 'image/png', c, 2); // first runs optimise the hot paths
    const measured = (s: Server) => async () => {
      const fromUs = nowUs();
      const r = await autocannonRun(url[s], crops, 'image/png', c, seconds);
      windows[s].push({ fromUs, toUs: nowUs() });
      return r;
    };
    results = await interleaved(rounds, { service: measured('service'), bare: measured('bare') });
  } finally {
    await bare.stop();
    await service.stop();
  }
  const perRequest = (s: Server) => {
    const t = selfTime(mainThreadProfile(dirs[s]), windows[s]);
    const answered = results[s].reduce((n, r) => n + r.answered, 0);
    const each = (m: Map<string, number>) => new Map([...m].map(([k, us]) => [k, us / answered]));
    return { byFunction: each(t.byFunction), byModule: each(t.byModule), total: t.totalUs / answered };
  };
  const profiles = { service: perRequest('service'), bare: perRequest('bare') };

  console.log(`# ${new Date().toISOString()}, concurrency ${c}, ${rounds} interleaved rounds of ${seconds} s, ${crops.length} real crops, model ${model.label}`);
  for (const s of SERVERS) {
    const r = results[s];
    console.log(
      `# ${s}: ${fmtSpread(spread(r.map((x) => x.rps)))} req/s, p50 ${fmtSpread(spread(r.map((x) => x.p50)))} ms, ` +
        `p99 ${fmtSpread(spread(r.map((x) => x.p99)))} ms, failed ${r.reduce((n, x) => n + x.failed, 0)} (profiling slows both)`,
    );
  }
  console.log(`# profiles: ${dirs.service} ${dirs.bare}`);
  const us = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(1));
  const table = (title: string, pick: (s: Server) => Map<string, number>) => {
    console.log(`\n| ${title}: main-thread self time, us per request | service | bare |\n|---|---|---|`);
    for (const [k, v] of largest(pick('service'), top)) console.log(`| ${k} | ${us(v)} | ${us(pick('bare').get(k))} |`);
  };
  table('function', (s) => profiles[s].byFunction);
  table('module', (s) => profiles[s].byModule);
  console.log(`| all samples, idle included | ${us(profiles.service.total)} | ${us(profiles.bare.total)} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
