/**
 * Benchmark models both HTTP benches share, built reproducibly by bench/bench_models.py through the trainer's own
 * build_model + export_onnx (random weights: the speed of a dense ViT does not depend on their values):
 *   demo    - the "tiny" preset, the architecture `npm run demo` trains (48 px, patch 8, 3 layers)
 *   vit-s16 - the "small" preset, ViT-S/16 at 224 px
 *   vit-b16 - the "base" preset, ViT-B/16 at 224 px
 * Each dir holds model.onnx and model.int8.onnx (the trainer's quantize_int8), so FEROPS_MODEL_VARIANT=int8 serves it.
 * Cached under ~/.cache/ferops/bench-models/<name>/<hash>, the hash covering everything that shapes the graph
 * (the builder, the trainer's model/export code, the Python lock, size, seed, opset), so a trainer change
 * rebuilds and an unchanged one costs nothing.
 *   node --import tsx bench/bench-models.ts [demo|vit-s16|vit-b16 ...]   # prints the model dirs
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PYTHON_LOCK, REPO_ROOT, TRAINER_DIR, cacheDir, pythonBin } from '../lib/paths';

export const BENCH_MODELS = {
  demo: { size: 'tiny', label: 'demo ViT (tiny preset, 48 px), random weights' },
  'vit-s16': { size: 'small', label: 'ViT-S/16 (small preset, 224 px), random weights' },
  'vit-b16': { size: 'base', label: 'ViT-B/16 (base preset, 224 px), random weights' },
} as const;
export type BenchModelName = keyof typeof BENCH_MODELS;

const SEED = 0;
const OPSET = 17;
const BUILDER = join(REPO_ROOT, 'bench', 'bench_models.py');
const GRAPH_SOURCES = ['config.py', 'export.py', 'labels.py', 'model.py', 'model_dir.py'].map((f) => join(TRAINER_DIR, 'ferops_trainer', f));

export function benchModelKey(name: BenchModelName): string {
  const h = createHash('sha256').update(JSON.stringify({ size: BENCH_MODELS[name].size, seed: SEED, opset: OPSET }));
  for (const file of [BUILDER, PYTHON_LOCK, ...GRAPH_SOURCES]) h.update(readFileSync(file));
  return h.digest('hex').slice(0, 12);
}

/** The model dir for `name`, built on first use (seconds for demo, about a minute for ViT-B/16 on 2 cores). */
export function benchModel(name: BenchModelName): string {
  if (!(name in BENCH_MODELS)) throw new Error(`unknown bench model "${name}"; one of ${Object.keys(BENCH_MODELS).join(', ')}`);
  const dir = join(cacheDir(), 'bench-models', name, benchModelKey(name));
  // Both variants must be there: the model ladder serves each.
  if (existsSync(join(dir, 'model.onnx')) && existsSync(join(dir, 'model.int8.onnx'))) return dir;
  // Build beside the final path and rename, so an interrupted build never looks like a cached model.
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  const r = spawnSync(pythonBin(), [BUILDER, BENCH_MODELS[name].size, tmp, '--seed', String(SEED), '--opset', String(OPSET)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`building bench model ${name} failed (exit ${r.status}):\n${(r.stderr ?? '').slice(-2000)}`);
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}

/** FEROPS_BENCH_MODEL (a model dir) when set, otherwise the demo-architecture bench model. */
export function defaultBenchModel(): { dir: string; label: string } {
  const given = process.env.FEROPS_BENCH_MODEL;
  if (given) return { dir: given, label: `FEROPS_BENCH_MODEL=${given}` };
  return { dir: benchModel('demo'), label: BENCH_MODELS.demo.label };
}

if (require.main === module) {
  const names = (process.argv.length > 2 ? process.argv.slice(2) : Object.keys(BENCH_MODELS)) as BenchModelName[];
  for (const name of names) console.log(`${name}\t${benchModel(name)}\t${BENCH_MODELS[name].label}`);
}
