export { createIngestActivity } from './activity';
export { IngestError } from './errors';
export type { IngestErrorCode } from './errors';
export { ingestDataset, type IngestOptions, type IngestResult } from './ingest-dataset';
