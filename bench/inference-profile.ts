/**
 * CPU profile of the inference service under crop load, summarised in the terminal:
 *   node --import tsx bench/inference-profile.ts [concurrency=32] [seconds=6] [top=25]
 * Starts the service child with --cpu-prof (the bench model, as bench/inference-http.ts), warms it up for 1 s,
 * drives POST /v1/predict?detect=false with a 48x48 PNG through autocannon, stops the service (which writes the
 * profile) and prints self time by function and by module. The .cpuprofile stays in the printed directory.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { defaultBenchModel } from './bench-models';
import { autocannonRun, startService } from './inference-http';
import { summarise } from './profile-summary';

async function main(): Promise<void> {
  const [c, seconds, top] = [Number(process.argv[2] ?? 32), Number(process.argv[3] ?? 6), Number(process.argv[4] ?? 25)];
  const dir = mkdtempSync(join(tmpdir(), 'ferops-profile-'));
  process.env.FEROPS_BENCH_PROFILE = dir;
  const crop = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#777' } }).png().toBuffer();
  const service = await startService(defaultBenchModel().dir);
  try {
    await autocannonRun(`${service.url}/v1/predict?detect=false`, crop, 'image/png', c, 1);
    const r = await autocannonRun(`${service.url}/v1/predict?detect=false`, crop, 'image/png', c, seconds);
    console.log(`# concurrency ${c}: ${r.rps.toFixed(0)} req/s, p50/p99 ${r.p50}/${r.p99} ms, failed ${r.failed} (profiling slows it)`);
  } finally {
    await service.stop();
  }
  // tsx's loader runs on a worker thread that writes its own profile; thread 0 is the service's main thread.
  const file = readdirSync(dir).find((f) => /\.0\.\d+\.cpuprofile$/.test(f));
  if (!file) throw new Error(`the service wrote no profile into ${dir}`);
  console.log(`# ${join(dir, file)} (whole service lifetime, start-up included)`);
  console.log(summarise(JSON.parse(readFileSync(join(dir, file), 'utf8')), top));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
