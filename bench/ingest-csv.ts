/**
 * Benchmark: our FER2013 CSV ingest against pandas/numpy routes to the same uint8 pixel arrays, same file, same run.
 *
 *   node --import tsx bench/ingest-csv.ts [rounds=3] [--slow-routes]
 *
 * The CSV (35,887 rows like FER2013: 28,709 Training, 3,589 PublicTest, 3,589 PrivateTest; ~290 MB) is
 * generated once and cached under os.tmpdir(). Each run ingests into a fresh data root, so nothing is reused.
 * Rounds interleave ours with the pandas routes of bench/pandas_read_csv.py (read_csv alone, and the fastest route
 * to arrays found, one np.fromstring per file); `--slow-routes` adds join-split and per-row once each.
 * Goal (issues #3, #18): ingest <= 10 s and at least as fast as the fastest pandas/numpy route to the arrays.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingestDataset } from '../activities/ingest';
import { pythonBin, REPO_ROOT } from '../lib/paths';
import { fmtSpread, interleaved, ratioSpread, spread } from './rounds';

const SPLITS: [string, number][] = [['Training', 28709], ['PublicTest', 3589], ['PrivateTest', 3589]];
const ROWS = SPLITS.reduce((a, [, n]) => a + n, 0);
const CACHE_DIR = join(tmpdir(), 'ferops-bench');
const CSV = join(CACHE_DIR, `fer2013-like-${ROWS}.csv`);

/** Writes the CSV with pseudo-random pixels (an LCG: fast, deterministic, every row distinct). */
async function ensureCsv(): Promise<void> {
  if (existsSync(CSV) && statSync(CSV).size > 250e6) return;
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${CSV}.${process.pid}.tmp`;
  const out = createWriteStream(tmp);
  const write = (s: string): Promise<void> => new Promise((resolve) => (out.write(s) ? resolve() : out.once('drain', () => resolve())));
  await write('emotion,pixels,Usage\n');
  let s = 12345;
  let row = 0;
  for (const [usage, n] of SPLITS) {
    for (let i = 0; i < n; i++, row++) {
      const px = new Array<number>(2304);
      for (let k = 0; k < 2304; k++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        px[k] = s >>> 24;
      }
      await write(`${row % 7},${px.join(' ')},${usage}\n`);
    }
  }
  await new Promise<void>((resolve) => out.end(resolve));
  renameSync(tmp, CSV);
}

/** One ingest of the CSV into a fresh data root; seconds, and the phases' split on the first call. */
async function ours(verbose: boolean): Promise<number> {
  const dataRoot = mkdtempSync(join(tmpdir(), 'ferops-bench-data-'));
  const phaseStart = new Map<string, number>();
  const start = performance.now();
  try {
    const res = await ingestDataset({ kind: 'fer2013-csv', path: CSV }, {
      dataRoot,
      onProgress: (p) => {
        if (!phaseStart.has(p.phase)) phaseStart.set(p.phase, performance.now());
      },
    });
    const seconds = (performance.now() - start) / 1000;
    if (verbose) {
      const phases = [...phaseStart.entries()];
      const split = phases.map(([name, t], i) => `${name} ${(((phases[i + 1]?.[1] ?? start + seconds * 1000) - t) / 1000).toFixed(2)} s`).join(', ');
      console.log(`# ours, first round: ${seconds.toFixed(2)} s (${split}); ${JSON.stringify(res.manifest.splits)}, rejected ${res.manifest.rejected.total}`);
    }
    return seconds;
  } finally {
    rmSync(dataRoot, { recursive: true, force: true });
  }
}

interface PandasRun {
  route: string;
  read_csv_s: number;
  to_arrays_s: number;
  checksum?: number;
}

function pandas(route: string): PandasRun {
  const py = spawnSync(pythonBin(), [join(REPO_ROOT, 'bench', 'pandas_read_csv.py'), CSV, route], { encoding: 'utf8' });
  if (py.status !== 0) throw new Error(`pandas route ${route} failed: ${py.stderr}`);
  return JSON.parse(py.stdout.trim().split('\n').pop()!) as PandasRun;
}

async function main(): Promise<void> {
  const rounds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 3);
  const t0 = performance.now();
  await ensureCsv();
  const sizeMb = statSync(CSV).size / 1e6;
  console.log(`# ${new Date().toISOString()}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${cpus().length} cores`);
  console.log(`# csv: ${CSV} (${sizeMb.toFixed(0)} MB, ${ROWS} rows; ready in ${((performance.now() - t0) / 1000).toFixed(1)} s); ${rounds} interleaved rounds`);
  let first = true;
  const runs = await interleaved<number | PandasRun>(rounds, {
    ours: async () => {
      const s = await ours(first);
      first = false;
      return s;
    },
    read_csv: async () => pandas('read_csv'),
    fromstring: async () => pandas('fromstring'),
  });
  // The slow routes run once: each costs tens of seconds, an order of magnitude past the others.
  if (process.argv.includes('--slow-routes')) for (const route of ['join-split', 'rows']) runs[route] = [pandas(route)];
  const checksums = new Set(Object.values(runs).flat().flatMap((r) => (typeof r === 'object' && r.checksum !== undefined ? [r.checksum] : [])));
  if (checksums.size !== 1) throw new Error(`the pandas routes disagree on the pixels: checksums ${[...checksums].join(', ')}`);
  const oursS = runs.ours as number[];
  console.log('| route | to uint8 arrays | seconds, median (range) | route / ours, median (range) |');
  console.log('|---|---|---|---|');
  console.log(`| ours (parse, validate, split, write the dataset) | yes | ${fmtSpread(spread(oursS), 2)} | 1.00 |`);
  for (const [route, list] of Object.entries(runs)) {
    if (route === 'ours') continue;
    const total = (list as PandasRun[]).map((r) => r.read_csv_s + r.to_arrays_s);
    const ratio = list.length === oursS.length ? fmtSpread(ratioSpread(total, oursS), 2) : `${(total[0] / spread(oursS).median).toFixed(2)} (one run)`;
    console.log(`| pandas ${route}${route === 'read_csv' ? '' : ' + arrays'} | ${route === 'read_csv' ? 'no' : 'yes'} | ${fmtSpread(spread(total), 2)} | ${ratio} |`);
  }
  console.log(`# peak RSS of this process ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB; goal: ours <= 10 s and fromstring / ours >= 1.00`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
