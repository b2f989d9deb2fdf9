import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

/**
 * The directory the user typed `ferops` in. `npm run ferops` runs in the repository root wherever it is typed (npm
 * keeps the user's directory in INIT_CWD), so a relative path read as given named a file under the repository.
 * Only for the `ferops` script itself: a process under another npm script (`npm test`) was started in a directory of
 * its caller's choosing.
 */
export function userCwd(env: NodeJS.ProcessEnv = process.env): string {
  return env.npm_lifecycle_event === 'ferops' && env.INIT_CWD ? env.INIT_CWD : process.cwd();
}

/** A file path from the command line, made absolute against the user's directory. */
export function userPath(path: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(userCwd(env), path);
}

/**
 * A local path that other processes read (the worker reads a dataset, the trainer a model directory; neither runs in
 * the user's directory), made absolute; `file://` URIs and absolute paths stay as given.
 */
export function pathForWorker(path: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.startsWith('file://') || isAbsolute(path) ? path : userPath(path, env);
}

/**
 * `--model`: a preset name or a hub id stays as given; a directory that exists relative to the user's directory is
 * made absolute (a hub id such as `google/vit-base-patch16-224-in21k` looks like a relative path too).
 */
export function modelForWorker(model: string, presets: readonly string[], env: NodeJS.ProcessEnv = process.env): string {
  if (presets.includes(model) || isAbsolute(model)) return model;
  const local = userPath(model, env);
  return existsSync(local) ? local : model;
}
