import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Repository root (this file lives in <root>/lib). */
export const REPO_ROOT = resolve(__dirname, '..');
export const TRAINER_DIR = join(REPO_ROOT, 'training-py');
export const PYTHON_LOCK = join(TRAINER_DIR, 'requirements.lock');

/**
 * The Python virtual environment lives outside the clone, keyed by the lock file's hash, so that a fresh
 * clone (CI) on a machine that already built it reuses gigabytes of torch instead of reinstalling them.
 * infra/bootstrap.sh computes the same path; keep the two in step.
 */
export function venvDir(): string {
  if (process.env.FEROPS_VENV) return resolve(process.env.FEROPS_VENV);
  const hash = createHash('sha256').update(readFileSync(PYTHON_LOCK)).digest('hex').slice(0, 12);
  return join(cacheDir(), `venv-${hash}`);
}

/** Installs shared by every clone on this machine (infra/bootstrap.sh uses the same default). */
export const cacheDir = (): string => resolve(process.env.FEROPS_CACHE_DIR ?? join(homedir(), '.cache', 'ferops'));

/** A face net converted to ONNX by infra/bootstrap.sh (infra/face-detector/convert*.py), e.g. `blazeface_back.onnx`. */
export const faceNetFile = (name: string): string => join(cacheDir(), 'face-detector', name);

export const venvBin = (name: string): string => join(venvDir(), 'bin', name);
export const pythonBin = (): string => venvBin('python');
