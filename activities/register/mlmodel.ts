import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NUM_CLASSES, FACE_SIZE } from '../../lib/labels';
import { PYTHON_LOCK, venvDir } from '../../lib/paths';
import { MODEL_INPUT_NAME, MODEL_OUTPUT_NAME } from '../../lib/preprocess';

/** Versions written into MLmodel and requirements.txt: the ones the project's locked venv really runs. */
export interface PythonEnvVersions {
  python: string;
  mlflow: string;
  onnx: string;
  onnxruntime: string;
  numpy: string;
}

/** Reads the pins from training-py/requirements.lock and the Python version from the venv's pyvenv.cfg. */
export function lockedVersions(lockFile = PYTHON_LOCK, venv = venvDir()): PythonEnvVersions {
  const lock = readFileSync(lockFile, 'utf8');
  const pin = (pkg: string): string => {
    const m = new RegExp(`^${pkg}==([^\\s;\\\\]+)`, 'mi').exec(lock);
    if (!m) throw new Error(`${lockFile} pins no ${pkg}; the MLflow model needs it in requirements.txt`);
    return m[1];
  };
  let python = '3.11';
  try {
    python = /^version(?:_info)?\s*=\s*([\d.]+)/m.exec(readFileSync(join(venv, 'pyvenv.cfg'), 'utf8'))?.[1] ?? python;
  } catch {
    // No venv on this machine (a client-only host): the minor version is what matters to virtualenv anyway.
  }
  return { python, mlflow: pin('mlflow'), onnx: pin('onnx'), onnxruntime: pin('onnxruntime'), numpy: pin('numpy') };
}

/**
 * The MLmodel file for an ONNX model with a pyfunc flavour. `model.onnx` sits at the model root because
 * mlflow.onnx's pyfunc wrapper reads MLmodel from the data file's parent directory. Providers are pinned to
 * CPU so that loading never tries CUDA first on a GPU-less host.
 */
export function mlmodelYaml(o: { versions: PythonEnvVersions; modelId?: string; runId?: string; artifactPath: string; now?: Date }): string {
  const tensor = (name: string, shape: number[]) => ({ type: 'tensor', 'tensor-spec': { dtype: 'float32', shape }, name });
  const inputs = JSON.stringify([tensor(MODEL_INPUT_NAME, [-1, 1, FACE_SIZE, FACE_SIZE])]);
  const outputs = JSON.stringify([tensor(MODEL_OUTPUT_NAME, [-1, NUM_CLASSES])]);
  const created = (o.now ?? new Date()).toISOString().replace('T', ' ').replace('Z', '000');
  const lines = [
    `artifact_path: ${o.artifactPath}`,
    'flavors:',
    '  onnx:',
    '    code: null',
    '    data: model.onnx',
    `    onnx_version: ${o.versions.onnx}`,
    '    providers:',
    '    - CPUExecutionProvider',
    '  python_function:',
    '    data: model.onnx',
    '    env:',
    '      virtualenv: python_env.yaml',
    '    loader_module: mlflow.onnx',
    `    python_version: ${o.versions.python}`,
    'is_signature_from_type_hint: false',
    `mlflow_version: ${o.versions.mlflow}`,
    ...(o.modelId ? [`model_id: ${o.modelId}`] : []),
    `model_uuid: ${randomBytes(16).toString('hex')}`,
    ...(o.runId ? [`run_id: ${o.runId}`] : []),
    'signature:',
    `  inputs: '${inputs}'`,
    `  outputs: '${outputs}'`,
    '  params: null',
    `utc_time_created: '${created}'`,
  ];
  return lines.join('\n') + '\n';
}

export const requirementsTxt = (v: PythonEnvVersions): string =>
  [`mlflow==${v.mlflow}`, `onnx==${v.onnx}`, `onnxruntime==${v.onnxruntime}`, `numpy==${v.numpy}`].join('\n') + '\n';

export const pythonEnvYaml = (v: PythonEnvVersions): string =>
  [`python: ${v.python}`, 'build_dependencies:', '- pip', '- setuptools', '- wheel', 'dependencies:', '- -r requirements.txt'].join('\n') + '\n';
