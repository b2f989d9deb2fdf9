import { setTimeout as sleep } from 'node:timers/promises';
import { MlflowError, isAlreadyExists, isNotFound } from './errors';
import type { MlflowHttp } from './http';
import { toKeyValues, type ModelVersion, type RegisteredModel, type Tags } from './types';

/** Creates the registered model, or returns the existing one (a second create is not an error for us). */
export async function createRegisteredModel(http: MlflowHttp, name: string, opts: { tags?: Tags; description?: string } = {}): Promise<RegisteredModel> {
  try {
    const r = await http.json<{ registered_model: RegisteredModel }>('POST', '/registered-models/create', {
      body: { name, tags: toKeyValues(opts.tags), description: opts.description },
    });
    return r.registered_model;
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    const existing = await getRegisteredModel(http, name);
    if (!existing) throw e;
    return existing;
  }
}

export async function getRegisteredModel(http: MlflowHttp, name: string): Promise<RegisteredModel | null> {
  try {
    return (await http.json<{ registered_model: RegisteredModel }>('GET', '/registered-models/get', { query: { name } })).registered_model;
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

export async function searchRegisteredModels(http: MlflowHttp, filter = '', maxResults = 100): Promise<RegisteredModel[]> {
  const r = await http.json<{ registered_models?: RegisteredModel[] }>('GET', '/registered-models/search', {
    query: { filter: filter || undefined, max_results: maxResults },
  });
  return r.registered_models ?? [];
}

export async function setRegisteredModelTag(http: MlflowHttp, name: string, key: string, value: string): Promise<void> {
  await http.json('POST', '/registered-models/set-tag', { body: { name, key, value } });
}

export interface CreateModelVersionOptions {
  name: string;
  source: string;
  runId?: string;
  /** 3.x LoggedModel id; with `source: models:/<id>` the store resolves the files itself. */
  modelId?: string;
  tags?: Tags;
  description?: string;
}

export async function createModelVersion(http: MlflowHttp, o: CreateModelVersionOptions): Promise<ModelVersion> {
  const r = await http.json<{ model_version: ModelVersion }>('POST', '/model-versions/create', {
    body: { name: o.name, source: o.source, run_id: o.runId, model_id: o.modelId, tags: toKeyValues(o.tags), description: o.description },
  });
  return r.model_version;
}

export async function getModelVersion(http: MlflowHttp, name: string, version: string): Promise<ModelVersion> {
  return (await http.json<{ model_version: ModelVersion }>('GET', '/model-versions/get', { query: { name, version } })).model_version;
}

/** Polls until the version is READY; FAILED_REGISTRATION or the deadline throw. */
export async function waitModelVersionReady(http: MlflowHttp, name: string, version: string, timeoutMs = 120_000): Promise<ModelVersion> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 200; ; delay = Math.min(delay * 2, 3_000)) {
    const mv = await getModelVersion(http, name, version);
    if (mv.status === 'READY') return mv;
    if (mv.status === 'FAILED_REGISTRATION') {
      throw new MlflowError(500, 'FAILED_REGISTRATION', `model ${name} v${version} failed to register: ${mv.status_message ?? ''}`);
    }
    if (Date.now() + delay > deadline) throw new Error(`model ${name} v${version} still ${mv.status} after ${timeoutMs} ms`);
    await sleep(delay);
  }
}

/** Model versions matching a filter such as `name='fer'`, `run_id='abc'` or ``tags.`ferops.run_key`='k'``. */
export async function searchModelVersions(http: MlflowHttp, filter: string, maxResults = 1000): Promise<ModelVersion[]> {
  const out: ModelVersion[] = [];
  let pageToken: string | undefined;
  do {
    const r = await http.json<{ model_versions?: ModelVersion[]; next_page_token?: string }>('GET', '/model-versions/search', {
      query: { filter, max_results: Math.min(maxResults - out.length, 10_000), page_token: pageToken },
    });
    out.push(...(r.model_versions ?? []));
    pageToken = r.next_page_token || undefined;
  } while (pageToken && out.length < maxResults);
  return out;
}

export async function setModelVersionTag(http: MlflowHttp, name: string, version: string, key: string, value: string): Promise<void> {
  await http.json('POST', '/model-versions/set-tag', { body: { name, version, key, value } });
}

/** Points `alias` at `version`; setting it again moves it. */
export async function setAlias(http: MlflowHttp, name: string, alias: string, version: string): Promise<void> {
  checkAlias(alias);
  await http.json('POST', '/registered-models/alias', { body: { name, alias, version } });
}

/** Removes `alias`; removing one that is not set is not an error (the end state is what was asked). */
export async function deleteAlias(http: MlflowHttp, name: string, alias: string): Promise<void> {
  checkAlias(alias);
  try {
    await http.json('DELETE', '/registered-models/alias', { body: { name, alias } });
  } catch (e) {
    if (!isMissing(e)) throw e;
  }
}

/**
 * The version behind `alias`, or null when the alias (or the model) does not exist. Some 3.x servers answer a
 * missing alias with 400 INVALID_PARAMETER_VALUE instead of 404, so both mean "missing".
 */
export async function getModelVersionByAlias(http: MlflowHttp, name: string, alias: string): Promise<ModelVersion | null> {
  checkAlias(alias);
  try {
    return (await http.json<{ model_version: ModelVersion }>('GET', '/registered-models/alias', { query: { name, alias } })).model_version;
  } catch (e) {
    if (isMissing(e)) return null;
    throw e;
  }
}

const isMissing = (e: unknown): boolean =>
  isNotFound(e) || (e instanceof MlflowError && e.status === 400 && e.errorCode === 'INVALID_PARAMETER_VALUE');

/** Checked here because a bad alias would otherwise come back as the same 400 that means "missing". */
function checkAlias(alias: string): void {
  if (!/^[\w-]{1,255}$/.test(alias) || alias === 'latest' || /^v\d+$/.test(alias)) {
    throw new Error(`invalid alias "${alias}": use letters, digits, _ or -, and not "latest" or v<digits>`);
  }
}

export async function getModelVersionDownloadUri(http: MlflowHttp, name: string, version: string): Promise<string> {
  return (await http.json<{ artifact_uri: string }>('GET', '/model-versions/get-download-uri', { query: { name, version } })).artifact_uri;
}
