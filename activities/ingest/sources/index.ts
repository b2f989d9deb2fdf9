import { fer2013Csv } from './fer2013-csv';
import { imageFolder } from './image-folder';
import { kaggle } from './kaggle';
import type { DatasetSourceModule } from './source';
import { synthetic } from './synthetic';

/** Every dataset source a pipeline may name; the types below and the input check are derived from this list. */
export const sources = [synthetic, fer2013Csv, imageFolder, kaggle] as const;

type Module = (typeof sources)[number];
/** What a pipeline input may say about its data (lib/pipeline-input.ts). */
export type DatasetSource = Module extends infer M ? (M extends DatasetSourceModule<infer I, { kind: string }> ? I : never) : never;
/** Where a dataset version came from, as its manifest records it (no credentials, ever). */
export type RecordedSource = Module extends infer M ? (M extends DatasetSourceModule<{ kind: string }, infer R> ? R : never) : never;
type SourceKind = DatasetSource['kind'];

export const SOURCE_KINDS: readonly SourceKind[] = sources.map((s) => s.kind);

/** The module of a kind, typed loosely: the caller has parsed the input with that module's own schema. */
export function sourceModule(kind: string): DatasetSourceModule<{ kind: string }, RecordedSource> | undefined {
  return sources.find((s) => s.kind === kind) as DatasetSourceModule<{ kind: string }, RecordedSource> | undefined;
}
