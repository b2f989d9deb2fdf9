import { z } from 'zod';
import { badSource } from './errors';

/**
 * The dataset sources a pipeline input may name, closed: a key the worker does not expect (an endpoint, a
 * credential) is refused, not carried along. Ranges and path rules are checked by each source's own reader.
 */
const synthetic = z.object({
  kind: z.literal('synthetic'),
  size: z.number().optional(),
  seed: z.number().optional(),
  difficulty: z.number().optional(),
  balance: z.enum(['fer2013', 'uniform']).optional(),
}).strict();
const fer2013Csv = z.object({ kind: z.literal('fer2013-csv'), path: z.string() }).strict();
const imageFolder = z.object({ kind: z.literal('image-folder'), path: z.string() }).strict();
const kaggle = z.object({ kind: z.literal('kaggle'), slug: z.string(), file: z.string().min(1).optional() }).strict();

export const ingestSourceSchema = z.discriminatedUnion('kind', [synthetic, fer2013Csv, imageFolder, kaggle]);
export type IngestSource = z.infer<typeof ingestSourceSchema>;

const KINDS = ingestSourceSchema.options.map((o) => o.shape.kind.value);

/** The source as the schema reads it; anything else is a bad_source IngestError that names the offending keys. */
export function parseIngestSource(source: unknown): IngestSource {
  const kind = (source as { kind?: unknown } | null | undefined)?.kind;
  if (!KINDS.includes(kind as IngestSource['kind'])) {
    throw badSource(`unknown ingest source kind ${JSON.stringify(kind)}; expected ${KINDS.slice(0, -1).join(', ')} or ${KINDS.at(-1)}`);
  }
  const parsed = ingestSourceSchema.safeParse(source);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
  throw badSource(`invalid ${String(kind)} source: ${issues}`);
}
