import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import type { SampleCollector } from '../collector';
import type { IngestContext } from '../context';
import { badSource } from '../errors';

/**
 * Bumped when parsing or validation changes what a given file turns into, so that the source index does not
 * hand back a version made by older rules.
 */
export const INGEST_RULES_VERSION = 1;

/** What the worker gives every source: where data lives, its configured endpoints, progress and cancellation. */
export interface SourceEnv {
  dataRoot: string;
  kaggleApiBase: string;
  ctx: IngestContext;
}

/** One input, opened: the cheap key of its content and the way to collect its faces. */
export interface OpenedSource<Recorded> {
  /** Same content, same key: the source index maps it to the dataset version it made, so a re-ingest is free. */
  key: string;
  /** Feeds every face (and every rejected row) to the collector; returns the source as the manifest records it. */
  collect(collector: SampleCollector): Promise<Recorded>;
  /** Removes whatever opening made (a download); called once, whether or not `collect` ran or failed. */
  close?(): Promise<void>;
}

/**
 * A kind of dataset source. Adding one is one module implementing this plus one line in ./index.ts: the
 * pipeline input type, its validation and the manifest record are derived from the registered modules.
 */
export interface DatasetSourceModule<Input extends { kind: string }, Recorded extends { kind: string }> {
  kind: Input['kind'];
  /** What a pipeline input may say, closed (`.strict()`): a key the worker does not expect is refused. */
  input: z.ZodType<Input, z.ZodTypeDef, unknown>;
  /** Checks and opens the input (stats, lists, downloads) far enough to know its content key. */
  open(input: Input, env: SourceEnv): Promise<OpenedSource<Recorded>>;
}

/** Infers a module's input and record types from its schema and collector, so they are never written twice. */
export const defineSource = <Input extends { kind: string }, Recorded extends { kind: string }>(
  m: DatasetSourceModule<Input, Recorded>,
): DatasetSourceModule<Input, Recorded> => m;

/** A local path or file:// URI from a pipeline input, resolved; any other scheme is refused. */
export function localPath(pathOrUri: string, kind: string): string {
  if (typeof pathOrUri !== 'string' || pathOrUri.length === 0) throw badSource(`${kind} source needs a path`);
  if (pathOrUri.startsWith('file://')) return fileURLToPath(pathOrUri);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pathOrUri)) {
    throw badSource(`${kind} source ${pathOrUri}: only local paths and file:// URIs are supported`);
  }
  return resolve(pathOrUri);
}

/** stat of a regular file, or a bad_source error that names it. */
export async function statFile(path: string): Promise<Stats> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (err) {
    throw badSource(`cannot read ${path}: ${(err as Error).message}`);
  }
  if (!st.isFile()) throw badSource(`${path} is not a file`);
  return st;
}
