import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pythonBin, REPO_ROOT } from '../../../lib/paths';
import type { InferenceConfig } from '../config';
import { type RunningServer, startServer } from '../server';

/** Shared set-up for the inference tests: fixture models, a server on port 0, small HTTP helpers. */

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

let modelsDir: string | undefined;
const scratch: string[] = [];

/** A temp dir removed when the test process exits, so repeated runs do not fill /tmp. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (scratch.length === 0) process.once('exit', () => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));
  scratch.push(dir);
  return dir;
}

/** Builds the fixture model dirs once per test process (test/fixtures/make_models.py, run with the venv). */
export function fixtureModels(): string {
  if (modelsDir) return modelsDir;
  const python = pythonBin();
  if (!existsSync(python)) {
    throw new Error(`python venv not found at ${python}: run infra/bootstrap.sh, or point FEROPS_VENV at a venv with onnx`);
  }
  const dir = tempDir('ferops-inference-models-');
  execFileSync(python, [join(REPO_ROOT, 'test', 'fixtures', 'make_models.py'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  modelsDir = dir;
  return dir;
}

export const model = (name: string): string => join(fixtureModels(), name);

export function startTestServer(overrides: Partial<InferenceConfig> = {}): Promise<RunningServer> {
  return startServer({
    port: 0,
    logLevel: 'silent',
    adminToken: ADMIN_TOKEN,
    modelDirs: [fixtureModels()],
    modelCacheDir: tempDir('ferops-inference-cache-'),
    feedbackDir: tempDir('ferops-inference-feedback-'),
    // A replica that follows the desired state takes its stable model from there.
    ...(overrides.desiredState === 'mlflow' ? {} : { stableModel: model('strips') }),
    ...overrides,
  });
}

export async function admin(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  token: string | null = ADMIN_TOKEN,
): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

export async function postImage(
  url: string,
  image: Buffer | Uint8Array,
  opts: { contentType?: string; query?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${url}/v1/predict${opts.query ? `?${opts.query}` : ''}`, {
    method: 'POST',
    headers: { 'content-type': opts.contentType ?? 'image/png', ...opts.headers },
    body: image,
  });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

export async function postMultipart(
  url: string,
  files: { field: string; data: Buffer | Uint8Array; name?: string }[],
  query = '',
): Promise<{ status: number; json: any }> {
  const form = new FormData();
  for (const f of files) form.append(f.field, new Blob([f.data]), f.name ?? 'image.bin');
  const res = await fetch(`${url}/v1/predict${query ? `?${query}` : ''}`, { method: 'POST', body: form });
  return { status: res.status, json: await res.json() };
}
