export interface Progress {
  phase: string;
  done: number;
  total?: number;
}

/** What every source gets: a way to report progress (heartbeats) and to notice cancellation. */
export interface IngestContext {
  onProgress: (p: Progress) => void;
  signal?: AbortSignal;
}

/** Throws the signal's reason (Temporal's CancelledFailure in an activity) once it is aborted. */
export function checkAborted(ctx: IngestContext): void {
  ctx.signal?.throwIfAborted();
}
