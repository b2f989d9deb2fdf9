import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../lib/paths';
import { openapi } from '../../services/inference/openapi';

// The docs against the code: a documented environment variable or route that the code no longer has, or a config
// key that no doc mentions, fails here instead of misleading an operator.

const DOCS = ['README.md', 'training-py/README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const read = (file: string) => readFileSync(join(REPO_ROOT, file), 'utf8');
const docs = new Map(DOCS.map((f) => [f, read(f)]));

/** Where settings are read: code, tests (their own knobs), scripts and deployment files; not the docs, not this file. */
const SOURCE_DIRS = ['activities', 'bench', 'infra', 'lib', 'services', 'test', 'training-py', 'workflows', '.ci'];
const SOURCE_FILE = /\.(ts|py|sh|ya?ml|cfg|json|toml|ini)$|(^|\/)Dockerfile[^/]*$/;
const SKIPPED = /(^|\/)(node_modules|__pycache__|\.pytest_cache|histories|docs-contract\.test\.ts)(\/|$)/;

function sourceFiles(dir: string): string[] {
  const abs = join(REPO_ROOT, dir);
  let entries: string[];
  try {
    entries = readdirSync(abs);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (SKIPPED.test(path)) return [];
    if (statSync(join(REPO_ROOT, path)).isDirectory()) return sourceFiles(path);
    return SOURCE_FILE.test(path) ? [path] : [];
  });
}
const rootFiles = readdirSync(REPO_ROOT).filter((f) => SOURCE_FILE.test(f) && f !== 'package-lock.json');
const source = [...SOURCE_DIRS.flatMap(sourceFiles), ...rootFiles].map((f) => read(f)).join('\n');

const ENV_NAME = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/;

/**
 * Environment variables the docs name: every FEROPS_* anywhere, and every variable in the first column of a
 * table (`MLFLOW_TRACKING_USERNAME` / `_PASSWORD` abbreviates MLFLOW_TRACKING_PASSWORD).
 */
function documentedEnvVars(markdown: string): Set<string> {
  const names = new Set(markdown.match(/\bFEROPS_[A-Z0-9_]*[A-Z0-9]\b/g) ?? []);
  for (const line of markdown.split('\n')) {
    const cell = /^\|([^|]+)\|/.exec(line)?.[1];
    if (!cell) continue;
    let last = '';
    for (const token of cell.split(/\/|,| or /).map((t) => t.replace(/`/g, '').trim())) {
      const name = token.startsWith('_') && last ? last.slice(0, last.lastIndexOf('_')) + token : token;
      if (ENV_NAME.test(name)) names.add((last = name));
    }
  }
  return names;
}

/** Routes the docs name as `METHOD /path`, without query strings; MLflow's own REST API is not ours. */
function documentedRoutes(markdown: string): Array<{ method: string; path: string }> {
  return [...markdown.matchAll(/\b(GET|POST|PUT|DELETE|PATCH) (\/[A-Za-z0-9_./{}:|-]*)/g)]
    .map(([, method, path]) => ({ method, path: path.replace(/-+$/, '') }))
    .filter((r) => !r.path.startsWith('/api/2.0/mlflow/'));
}

/** An OpenAPI path template as a pattern: a parameter matches one segment, however the docs spell it. */
const templatePattern = (template: string) => new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
/** `{stable|canary}` and `:slot` in the docs stand for one segment too. */
const concrete = (path: string) => path.replace(/\{[^}]*\}|:[a-z]+/gi, 'x');

function routeExists(method: string, path: string): boolean {
  return Object.entries(openapi.paths).some(([template, ops]) => method.toLowerCase() in ops && templatePattern(template).test(concrete(path)));
}

/** The FEROPS_* keys the config modules parse. */
function configKeys(): Map<string, string> {
  const files = [...sourceFiles('lib').filter((f) => /\/config[^/]*\.ts$/.test(f)), ...sourceFiles('services').filter((f) => f.endsWith('/config.ts'))];
  return new Map(files.flatMap((f) => (read(f).match(/\bFEROPS_[A-Z0-9_]*[A-Z0-9]\b/g) ?? []).map((k) => [k, f] as const)));
}

describe('docs contract', () => {
  it('when the docs name an environment variable, then the product still reads it', () => {
    const missing = [...docs].flatMap(([file, text]) => [...documentedEnvVars(text)].filter((name) => !source.includes(name)).map((name) => `${name} (${file})`));
    assert.deepEqual(missing, [], 'documented but read nowhere in the code');
  });

  it('when a config module parses a FEROPS_* key, then some doc says what it does', () => {
    const allDocs = [...docs.values()].join('\n');
    const undocumented = [...configKeys()].filter(([key]) => !new RegExp(`\\b${key}\\b`).test(allDocs)).map(([key, file]) => `${key} (${relative(REPO_ROOT, join(REPO_ROOT, file))})`);
    assert.deepEqual(undocumented, [], 'parsed but documented nowhere');
  });

  it('when the docs name a route of the service, then openapi.json (kept equal to the router by its own test) has it', () => {
    const missing = [...docs].flatMap(([file, text]) => documentedRoutes(text).filter((r) => !routeExists(r.method, r.path)).map((r) => `${r.method} ${r.path} (${file})`));
    assert.deepEqual(missing, [], 'documented but not served');
  });

  it('when the docs drift, then the checks above see it (their parsers on known text)', () => {
    assert.deepEqual([...documentedEnvVars('| `MLFLOW_TRACKING_USERNAME` / `_PASSWORD`, or `MLFLOW_TRACKING_TOKEN` | x |\nsee FEROPS_GONE.')].sort(),
      ['FEROPS_GONE', 'MLFLOW_TRACKING_PASSWORD', 'MLFLOW_TRACKING_TOKEN', 'MLFLOW_TRACKING_USERNAME']);
    assert.equal(source.includes('FEROPS_GONE'), false);
    assert.deepEqual(documentedRoutes('`PUT /admin/v1/slots/{stable|canary}`, GET /v1/gone?x=1, GET /api/2.0/mlflow/runs/get'),
      [{ method: 'PUT', path: '/admin/v1/slots/{stable|canary}' }, { method: 'GET', path: '/v1/gone' }]);
    assert.equal(routeExists('PUT', '/admin/v1/slots/{stable|canary}'), true);
    assert.equal(routeExists('GET', '/v1/gone'), false);
    assert.equal(routeExists('GET', '/v1/predict'), false, 'the method counts, not only the path');
  });
});
