/** Shapes of MLflow REST answers (snake_case as on the wire), limited to the fields ferops reads. */
export interface KeyValue {
  key: string;
  value: string;
}

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: 'active' | 'deleted';
  tags?: KeyValue[];
}

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  status: RunStatus;
  start_time?: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage?: string;
}

export interface RunData {
  metrics?: Metric[];
  params?: KeyValue[];
  tags?: KeyValue[];
}

export interface Run {
  info: RunInfo;
  data: RunData;
  inputs?: { dataset_inputs?: { dataset: DatasetInput['dataset']; tags?: KeyValue[] }[] };
  /** 3.x: LoggedModels this run produced. */
  outputs?: { model_outputs?: { model_id: string; step?: number }[] };
}

export interface DatasetInput {
  dataset: { name: string; digest: string; source_type: string; source: string; schema?: string; profile?: string };
  tags?: KeyValue[];
}

export type LoggedModelStatus = 'LOGGED_MODEL_PENDING' | 'LOGGED_MODEL_READY' | 'LOGGED_MODEL_UPLOAD_FAILED';

export interface LoggedModel {
  info: {
    model_id: string;
    experiment_id: string;
    name: string;
    artifact_uri: string;
    status: LoggedModelStatus;
    source_run_id?: string;
    tags?: KeyValue[];
  };
}

export interface RegisteredModel {
  name: string;
  tags?: KeyValue[];
  description?: string;
  aliases?: { alias: string; version: string }[];
  latest_versions?: ModelVersion[];
}

export type ModelVersionStatus = 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION' | 'READY';

export interface ModelVersion {
  name: string;
  version: string;
  source: string;
  run_id?: string;
  model_id?: string;
  status: ModelVersionStatus;
  status_message?: string;
  tags?: KeyValue[];
  aliases?: string[];
  creation_timestamp?: number;
}

export interface ArtifactEntry {
  /** Path relative to the listed root, with `/` separators. */
  path: string;
  isDir: boolean;
  size?: number;
}

/** Tags as a plain object: easier to read and write than MLflow's list of pairs. */
export type Tags = Record<string, string>;

export const toKeyValues = (t: Tags | undefined): KeyValue[] =>
  Object.entries(t ?? {}).map(([key, value]) => ({ key, value: String(value) }));

export const fromKeyValues = (kv: KeyValue[] | undefined): Tags => Object.fromEntries((kv ?? []).map((t) => [t.key, t.value]));
