/**
 * A model artifact that must not be served or evaluated: `invalid_model` (missing file, wrong labels or graph, a
 * failed warm-up) or `checksum_mismatch` (the download is not what the registry recorded). The service answers
 * either with 422; the evaluate activity fails with the message.
 */
export class ModelArtifactError extends Error {
  constructor(
    readonly code: 'invalid_model' | 'checksum_mismatch',
    message: string,
  ) {
    super(message);
    this.name = 'ModelArtifactError';
  }
}

export const invalidModel = (message: string): ModelArtifactError => new ModelArtifactError('invalid_model', message);

export const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 300);
