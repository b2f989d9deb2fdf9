import { MlflowError, isAlreadyExists, isNotFound } from './errors';
import type { MlflowHttp } from './http';
import { toKeyValues, type Experiment, type Tags } from './types';

export async function getExperimentByName(http: MlflowHttp, name: string): Promise<Experiment | null> {
  try {
    const r = await http.json<{ experiment: Experiment }>('GET', '/experiments/get-by-name', { query: { experiment_name: name } });
    return r.experiment;
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

export async function getExperiment(http: MlflowHttp, experimentId: string): Promise<Experiment> {
  const r = await http.json<{ experiment: Experiment }>('GET', '/experiments/get', { query: { experiment_id: experimentId } });
  return r.experiment;
}

/** Creates an experiment; the server picks `mlflow-artifacts:/<id>` as its artifact location (proxied). */
export async function createExperiment(http: MlflowHttp, name: string, tags?: Tags): Promise<string> {
  const r = await http.json<{ experiment_id: string }>('POST', '/experiments/create', { body: { name, tags: toKeyValues(tags) } });
  return r.experiment_id;
}

/**
 * The experiment's id, creating it when missing. Two workers may race to create it: the loser gets
 * RESOURCE_ALREADY_EXISTS and reads the winner's. A deleted experiment keeps its name reserved, so it is
 * restored rather than left to block every future run.
 */
export async function getOrCreateExperiment(http: MlflowHttp, name: string, tags?: Tags): Promise<string> {
  const existing = await getExperimentByName(http, name);
  if (existing) {
    if (existing.lifecycle_stage === 'deleted') {
      await http.json('POST', '/experiments/restore', { body: { experiment_id: existing.experiment_id } });
    }
    return existing.experiment_id;
  }
  try {
    return await createExperiment(http, name, tags);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    const winner = await getExperimentByName(http, name);
    if (!winner) throw new MlflowError(409, 'RESOURCE_ALREADY_EXISTS', `experiment "${name}" exists but cannot be read`);
    return winner.experiment_id;
  }
}

export async function deleteExperiment(http: MlflowHttp, experimentId: string): Promise<void> {
  await http.json('POST', '/experiments/delete', { body: { experiment_id: experimentId } });
}
