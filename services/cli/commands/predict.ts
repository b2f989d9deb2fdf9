import { readFileSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { loadConfig } from '../../../lib/config';
import { annotate } from '../annotate';
import { type CommandSpec, numberFlag, type ParsedArgs, UsageError } from '../args';
import { callService } from '../service-call';
import { userPath } from '../user-path';

const TYPES: Record<string, string> = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.webp': 'image/webp', '.gif': 'image/gif' };

/** Sends one image to POST /v1/predict and returns the parsed answer. */
export async function predictFile(baseUrl: string, file: string, opts: { detect?: boolean; minFace?: number } = {}): Promise<PredictAnswer> {
  const url = new URL('/v1/predict', baseUrl);
  if (opts.detect === false) url.searchParams.set('detect', 'false');
  if (opts.minFace !== undefined) url.searchParams.set('minFace', String(opts.minFace));
  let image: Buffer;
  try {
    image = readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
  return callService<PredictAnswer>(url, { method: 'POST', headers: { 'content-type': type }, body: image }, 'predict');
}

export interface PredictAnswer {
  requestId: string;
  modelVersion: string;
  faces: { box: { x: number; y: number; width: number; height: number }; label: string; confidence: number; alignment?: { angleDeg: number } }[];
  reason?: string;
}

export function describePrediction(a: PredictAnswer): string {
  if (!a.faces.length) return `no face (${a.reason ?? 'none found'}); model v${a.modelVersion}`;
  const faces = a.faces.map((f, i) => `  face ${i + 1} at (${f.box.x},${f.box.y}) ${f.box.width}x${f.box.height}: ${f.label} (${(f.confidence * 100).toFixed(1)}%)`);
  return [`${a.faces.length} face(s), model v${a.modelVersion}, request ${a.requestId}`, ...faces].join('\n');
}

export const PREDICT_ARGS: CommandSpec = {
  usage: 'predict <image>... [--no-detect] [--min-face PX] [--json] [--out annotated.png] [--url URL]',
  values: ['min-face', 'out', 'url'], switches: ['no-detect', 'json'], positionals: 10_000,
};

/**
 * One image: its answer (or, with --json, the API's JSON), and a drawing with --out. Several (a shell glob over a
 * folder of photos): each answer under its file name, one JSON array with --json; an image that fails is reported
 * and the rest go on, and the exit code is 1 if any failed.
 */
export async function predictCommand(args: ParsedArgs): Promise<number> {
  const files = args.positional.map((f) => userPath(f));
  if (!files.length) throw new UsageError('needs an image');
  const out = typeof args.flags.out === 'string' ? userPath(args.flags.out) : undefined;
  if (out !== undefined && files.length > 1) throw new UsageError('--out draws one image: give one image with it');
  const url = typeof args.flags.url === 'string' ? args.flags.url : loadConfig().inferenceUrl;
  // --min-face: the small-face search for this photo (the API's ?minFace=, which judges the value).
  const opts = { detect: !args.flags['no-detect'], minFace: numberFlag(args.flags, 'min-face') };
  if (files.length === 1) {
    const answer = await predictFile(url, files[0], opts);
    console.log(args.flags.json ? JSON.stringify(answer, null, 2) : describePrediction(answer));
    if (out !== undefined) {
      writeFileSync(out, await annotate(readFileSync(files[0]), answer));
      if (!args.flags.json) console.log(`drawing written to ${out}`);
    }
    return 0;
  }
  const results: ({ file: string } & (PredictAnswer | { error: string }))[] = [];
  for (const [i, file] of files.entries()) {
    const shown = args.positional[i];
    try {
      const answer = await predictFile(url, file, opts);
      results.push({ file: shown, ...answer });
      if (!args.flags.json) console.log(`${shown}: ${describePrediction(answer)}`);
    } catch (e) {
      results.push({ file: shown, error: (e as Error).message });
      console.error(`ferops: ${shown}: ${(e as Error).message}`);
    }
  }
  if (args.flags.json) console.log(JSON.stringify(results, null, 2));
  return results.some((r) => 'error' in r) ? 1 : 0;
}
