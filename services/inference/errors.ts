/**
 * The one error type of the service. `trusted` errors are expected outcomes (bad input, bad model, auth) whose
 * message is safe to show the client; untrusted ones are bugs: the client sees a generic message and the log
 * keeps the detail.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly trusted = true,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
  }
}

export const badRequest = (code: string, message: string) => new AppError(400, code, message);
export const unprocessable = (code: string, message: string) => new AppError(422, code, message);

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError(500, 'internal_error', 'internal error', false, { cause: err });
}
