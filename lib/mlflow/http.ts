import { createReadStream, createWriteStream, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { MlflowError } from './errors';
import { resolveRetry, withRetry, type ResolvedRetry, type RetryOptions } from './retry';

type Query = Record<string, string | number | boolean | readonly string[] | undefined>;

const API = '/api/2.0/mlflow';
const ARTIFACTS = '/api/2.0/mlflow-artifacts/artifacts';

/**
 * The transport under every client call: JSON REST and the artifact proxy, with retries. It knows nothing about
 * runs or models; the files beside it do.
 */
export class MlflowHttp {
  readonly baseUrl: string;
  readonly retry: ResolvedRetry;

  constructor(opts: { baseUrl: string; retry?: RetryOptions; requestTimeoutMs?: number; env?: NodeJS.ProcessEnv }) {
    if (!/^https?:\/\//.test(opts.baseUrl)) throw new Error(`MLflow baseUrl must start with http(s)://, got "${opts.baseUrl}"`);
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.retry = resolveRetry(opts.retry);
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.auth = authHeaders(opts.env ?? process.env);
  }

  private readonly timeoutMs: number;
  /** Sent with every request: the credentials MLflow's own clients read from the environment, if any. */
  private readonly auth: Record<string, string>;

  /** One REST call under `/api/2.0/mlflow`; GET takes `query`, the others a JSON `body`. */
  async json<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, args: { query?: Query; body?: unknown } = {}): Promise<T> {
    const url = this.baseUrl + API + path + queryString(args.query);
    return withRetry(`${method} ${path}`, this.retry, async () => {
      const res = await request(url, {
        method,
        // The server rejects POST/PATCH/DELETE without this content type, and undici adds none itself.
        headers: args.body === undefined ? this.auth : { ...this.auth, 'content-type': 'application/json' },
        body: args.body === undefined ? undefined : JSON.stringify(args.body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      const text = await res.body.text();
      if (res.statusCode >= 400) throw errorFrom(res.statusCode, text, `${method} ${path}`);
      return (text ? JSON.parse(text) : {}) as T;
    });
  }

  /** Uploads one local file through the artifact proxy to `<artifactPath>`. */
  async putFile(artifactPath: string, localFile: string): Promise<void> {
    const size = statSync(localFile).size;
    const path = ARTIFACTS + '/' + encodePath(artifactPath);
    await withRetry(`PUT ${path}`, this.retry, async () => {
      // A fresh stream per try: a half-read stream from a failed try cannot be replayed.
      const res = await request(this.baseUrl + path, {
        method: 'PUT',
        headers: { ...this.auth, 'content-type': 'application/octet-stream', 'content-length': String(size) },
        body: createReadStream(localFile),
        headersTimeout: this.timeoutMs * 4,
        bodyTimeout: this.timeoutMs * 4,
      });
      const text = await res.body.text();
      if (res.statusCode >= 400) throw errorFrom(res.statusCode, text, `PUT ${path}`);
    });
  }

  /** Downloads `<artifactPath>` (a file) to `localFile`, creating its directory. */
  async getToFile(artifactPath: string, localFile: string): Promise<void> {
    const path = ARTIFACTS + '/' + encodePath(artifactPath);
    mkdirSync(dirname(localFile), { recursive: true });
    await withRetry(`GET ${path}`, this.retry, async () => {
      const res = await request(this.baseUrl + path, { method: 'GET', headers: this.auth, headersTimeout: this.timeoutMs * 4, bodyTimeout: this.timeoutMs * 4 });
      if (res.statusCode >= 400) throw errorFrom(res.statusCode, await res.body.text(), `GET ${path}`);
      await pipeline(res.body, createWriteStream(localFile));
    });
  }

  /** Lists one directory level of `<artifactPath>` through the proxy. */
  async listDir(artifactPath: string): Promise<{ path: string; is_dir?: boolean; file_size?: number }[]> {
    const url = this.baseUrl + ARTIFACTS + queryString({ path: artifactPath });
    return withRetry(`GET ${ARTIFACTS}?path=${artifactPath}`, this.retry, async () => {
      const res = await request(url, { method: 'GET', headers: this.auth, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
      const text = await res.body.text();
      if (res.statusCode >= 400) throw errorFrom(res.statusCode, text, `GET ${ARTIFACTS}`);
      return ((text ? JSON.parse(text) : {}) as { files?: { path: string; is_dir?: boolean; file_size?: number }[] }).files ?? [];
    });
  }
}

function queryString(q: Query | undefined): string {
  if (!q) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    // Arrays repeat the key, which is how the server's GET parser reads repeated fields.
    for (const item of Array.isArray(v) ? v : [v]) params.append(k, String(item));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

const encodePath = (p: string): string => p.split('/').filter(Boolean).map(encodeURIComponent).join('/');

function errorFrom(status: number, text: string, endpoint: string): MlflowError {
  try {
    const body = JSON.parse(text) as { error_code?: string; message?: string };
    return new MlflowError(status, body.error_code ?? `HTTP_${status}`, body.message ?? text.slice(0, 500), endpoint);
  } catch {
    return new MlflowError(status, `HTTP_${status}`, text.slice(0, 500), endpoint);
  }
}

/**
 * The credentials of a tracking server behind MLflow's basic-auth app (or a proxy that takes a bearer token), from
 * the variables MLflow's own clients read: MLFLOW_TRACKING_TOKEN, else MLFLOW_TRACKING_USERNAME and _PASSWORD.
 */
export function authHeaders(env: NodeJS.ProcessEnv): Record<string, string> {
  if (env.MLFLOW_TRACKING_TOKEN) return { authorization: `Bearer ${env.MLFLOW_TRACKING_TOKEN}` };
  const user = env.MLFLOW_TRACKING_USERNAME;
  if (!user) return {};
  return { authorization: `Basic ${Buffer.from(`${user}:${env.MLFLOW_TRACKING_PASSWORD ?? ''}`).toString('base64')}` };
}
