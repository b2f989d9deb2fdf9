import { badSource } from './errors';
import { SOURCE_KINDS, sourceModule, type DatasetSource } from './sources';

/**
 * The source as its module's closed schema reads it; anything else is a bad_source IngestError that names the
 * offending keys. The source comes from workflow input, so it is checked before anything is read or fetched.
 */
export function parseDatasetSource(source: unknown): DatasetSource {
  const kind = (source as { kind?: unknown } | null | undefined)?.kind;
  const module = typeof kind === 'string' ? sourceModule(kind) : undefined;
  if (!module) {
    throw badSource(`unknown ingest source kind ${JSON.stringify(kind)}; expected ${SOURCE_KINDS.slice(0, -1).join(', ')} or ${SOURCE_KINDS.at(-1)}`);
  }
  const parsed = module.input.safeParse(source);
  if (parsed.success) return parsed.data as DatasetSource;
  const issues = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
  throw badSource(`invalid ${kind} source: ${issues}`);
}
