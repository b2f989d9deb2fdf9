/**
 * The BentoML peer's venv, apart from the project venv (bentoml pins many packages), built on first use from
 * bench/peers/requirements.txt with the project venv's Python and cached at
 * ~/.cache/ferops/bench-peers-<hash of the requirements and the Python version>:
 *   node --import tsx bench/peers/venv.ts   # prints its python
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, cacheDir, pythonBin, venvDir } from '../../lib/paths';

const REQUIREMENTS = join(REPO_ROOT, 'bench', 'peers', 'requirements.txt');
const MARKER = '.ferops-complete';

export function peerVenvDir(): string {
  // The Python version, not the whole pyvenv.cfg: that names the project venv, which a new project lock moves.
  const python = /^version(?:_info)?\s*=\s*(\S+)/m.exec(readFileSync(join(venvDir(), 'pyvenv.cfg'), 'utf8'))?.[1] ?? 'unknown';
  const h = createHash('sha256').update(readFileSync(REQUIREMENTS)).update(python);
  return join(cacheDir(), `bench-peers-${h.digest('hex').slice(0, 12)}`);
}

/** The peer venv's python, building the venv first if it is missing or was left half-built. */
export function peerPython(): string {
  const dir = peerVenvDir();
  const python = join(dir, 'bin', 'python');
  if (existsSync(join(dir, MARKER))) return python;
  // A venv cannot be renamed (its scripts name their own path), so the marker is written last instead: an
  // interrupted install has none and is redone.
  rmSync(dir, { recursive: true, force: true });
  const started = performance.now();
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${(r.stderr ?? '').slice(-2000)}`);
    }
  };
  console.error(`[peers] building ${dir} from ${REQUIREMENTS}`);
  run(pythonBin(), ['-m', 'venv', dir]);
  run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', REQUIREMENTS]);
  writeFileSync(join(dir, MARKER), '');
  console.error(`[peers] peer venv installed in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return python;
}

if (require.main === module) console.log(peerPython());
