/**
 * Benchmark: our FER2013 CSV ingest against pandas.read_csv on the same FER2013-sized file.
 *
 *   node --import tsx bench/ingest-csv.ts [--to-arrays]
 *
 * The CSV (35,887 rows like FER2013: 28,709 Training, 3,589 PublicTest, 3,589 PrivateTest; ~290 MB) is
 * generated once and cached under os.tmpdir(). Each run ingests into a fresh data root, so nothing is reused.
 * Goal (issue #3): ingest <= 10 s and at least as fast as pandas parsing the file.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingestDataset } from '../activities/ingest';
import { pythonBin, REPO_ROOT } from '../lib/paths';

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

async function main(): Promise<void> {
  const toArrays = process.argv.includes('--to-arrays');
  const t0 = performance.now();
  await ensureCsv();
  const sizeMb = statSync(CSV).size / 1e6;
  console.log(`csv: ${CSV} (${sizeMb.toFixed(0)} MB, ${ROWS} rows; ready in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  const dataRoot = mkdtempSync(join(tmpdir(), 'ferops-bench-data-'));
  const phaseStart = new Map<string, number>();
  const start = performance.now();
  let ours: number;
  try {
    const res = await ingestDataset({ kind: 'fer2013-csv', path: CSV }, {
      dataRoot,
      onProgress: (p) => {
        if (!phaseStart.has(p.phase)) phaseStart.set(p.phase, performance.now());
      },
    });
    ours = (performance.now() - start) / 1000;
    const phases = [...phaseStart.entries()];
    const split = phases
      .map(([name, t], i) => `${name} ${(((phases[i + 1]?.[1] ?? start + ours * 1000) - t) / 1000).toFixed(2)} s`)
      .join(', ');
    console.log(`ours:   ${ours.toFixed(2)} s  (${(sizeMb / ours).toFixed(0)} MB/s; ${split}); ${JSON.stringify(res.manifest.splits)}, rejected ${res.manifest.rejected.total}`);
    console.log(`        peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  } finally {
    rmSync(dataRoot, { recursive: true, force: true });
  }

  const py = spawnSync(pythonBin(), [join(REPO_ROOT, 'bench', 'pandas_read_csv.py'), CSV, ...(toArrays ? ['--to-arrays'] : [])], { encoding: 'utf8' });
  if (py.status !== 0) throw new Error(`pandas benchmark failed: ${py.stderr}`);
  const pandas = JSON.parse(py.stdout.trim().split('\n').pop()!) as { rows: number; read_csv_s: number; to_arrays_s?: number };
  console.log(`pandas: read_csv ${pandas.read_csv_s.toFixed(2)} s${pandas.to_arrays_s !== undefined ? ` + pixels to uint8 arrays ${pandas.to_arrays_s.toFixed(2)} s` : ''} (${pandas.rows} rows)`);
  console.log(`ratio:  pandas read_csv / ours = ${(pandas.read_csv_s / ours).toFixed(2)}x  (goal: >= 1.00x, ours <= 10 s)`);
  if (pandas.to_arrays_s !== undefined) {
    console.log(`        pandas to equal output / ours = ${((pandas.read_csv_s + pandas.to_arrays_s) / ours).toFixed(2)}x`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
