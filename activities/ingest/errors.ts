export type IngestErrorCode =
  | 'too_many_rejects'
  | 'bad_source'
  | 'missing_credentials'
  | 'download_failed';

/**
 * A failure the Temporal wrapper can classify: `nonRetryable` errors (bad input, missing credentials) fail the
 * workflow at once instead of burning retries; the rest (a flaky download) are worth retrying.
 */
export class IngestError extends Error {
  constructor(
    readonly code: IngestErrorCode,
    message: string,
    readonly nonRetryable: boolean,
  ) {
    super(message);
    this.name = 'IngestError';
  }
}

export const badSource = (message: string): IngestError => new IngestError('bad_source', message, true);
