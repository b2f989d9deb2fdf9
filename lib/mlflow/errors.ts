/** The server answered with an error body (`{error_code, message}`); 4xx are never retried. */
export class MlflowError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly endpoint = '',
  ) {
    super(`MLflow ${endpoint} ${status} ${errorCode}: ${message}`.replace(/\s+/g, ' '));
    this.name = 'MlflowError';
  }
}

/** The server could not be reached (or kept answering 5xx) within the retry budget. */
export class MlflowUnavailableError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'MlflowUnavailableError';
  }
}

export const isNotFound = (e: unknown): boolean =>
  e instanceof MlflowError && (e.status === 404 || e.errorCode === 'RESOURCE_DOES_NOT_EXIST');

export const isAlreadyExists = (e: unknown): boolean =>
  e instanceof MlflowError && e.errorCode === 'RESOURCE_ALREADY_EXISTS';
