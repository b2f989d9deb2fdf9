import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../errors';
import { sniffImageHeader } from '../runtime/image-header';

/**
 * Admission control: at most `maxInflight` requests being read or answered at once, and at most
 * `maxBufferedBytes` of request bodies (and the pixels they decode to) held by them. Past either, a request is
 * answered 503 `overloaded` with Retry-After at once, before its body is read, so overload costs a short answer
 * rather than memory or a client timeout.
 */
export interface AdmissionLimits {
  maxInflight: number;
  maxBufferedBytes: number;
}

/** What /metrics shows; set on every change so a scrape reads the live values. */
export interface AdmissionGauges {
  inflight: { set(v: number): void };
  bufferedBytes: { set(v: number): void };
  shed: { inc(labels: { reason: 'inflight' | 'buffered_bytes' }): void };
}

export const RETRY_AFTER_S = 1;

const overloaded = (message: string) => Object.assign(new AppError(503, 'overloaded', message), { retryAfterS: RETRY_AFTER_S });

export class Admission {
  inflight = 0;
  bufferedBytes = 0;

  constructor(
    readonly limits: AdmissionLimits,
    private readonly gauges?: AdmissionGauges,
  ) {}

  /** Takes a slot and reserves `bytes` (the declared body), or throws 503; release the ticket when the answer is sent. */
  admit(bytes: number): Ticket {
    if (this.inflight >= this.limits.maxInflight) {
      this.gauges?.shed.inc({ reason: 'inflight' });
      throw overloaded(`the service is answering its limit of ${this.limits.maxInflight} requests (FEROPS_MAX_INFLIGHT); retry after ${RETRY_AFTER_S} s`);
    }
    this.resize(0, bytes);
    this.inflight++;
    this.publish();
    return new Ticket(this, bytes);
  }

  /** @internal One request's hold goes from `from` to `to` bytes; growth past the budget throws 503. */
  resize(from: number, to: number): void {
    const next = this.bufferedBytes - from + to;
    // A request alone is always admitted: a budget below one request's worst case must not lock that request out.
    if (to > from && next > this.limits.maxBufferedBytes && this.bufferedBytes > from) {
      this.gauges?.shed.inc({ reason: 'buffered_bytes' });
      throw overloaded(`the service holds its limit of ${this.limits.maxBufferedBytes} bytes of request data (FEROPS_MAX_BUFFERED_BYTES); retry after ${RETRY_AFTER_S} s`);
    }
    this.bufferedBytes = next;
    this.publish();
  }

  /** @internal A request has been answered (or its client is gone) and its buffers are free. */
  leave(held: number): void {
    this.bufferedBytes -= held;
    this.inflight--;
    this.publish();
  }

  private publish(): void {
    this.gauges?.inflight.set(this.inflight);
    this.gauges?.bufferedBytes.set(this.bufferedBytes);
  }
}

export class Ticket {
  private released = false;

  constructor(
    private readonly admission: Admission,
    private held: number,
  ) {}

  /** The request now holds `bytes` in all (body, then body plus decoded pixels); throws 503 if that passes the budget. */
  hold(bytes: number): void {
    if (this.released || bytes === this.held) return;
    this.admission.resize(this.held, bytes);
    this.held = bytes;
  }

  /** Grows the hold to at least `bytes` (a chunked body arriving). */
  atLeast(bytes: number): void {
    if (bytes > this.held) this.hold(bytes);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.admission.leave(this.held);
    this.held = 0;
  }

  /**
   * Releases once the answer is sent or the connection is gone, and `work` (the request's own processing, which an
   * abort does not stop) has settled: until both, its buffers are still alive.
   */
  releaseWhen(res: ServerResponse, work: Promise<unknown> = Promise.resolve()): void {
    let pending = 2;
    const done = () => {
      if (--pending === 0) this.release();
    };
    if (res.closed) done();
    else res.once('close', done);
    work.then(done, done);
  }
}

/** The body size a request announces, or `maxBytes` when it is chunked (it may grow to that). */
export function declaredBytes(req: IncomingMessage, maxBytes: number): number {
  const length = Number(req.headers['content-length']);
  if (Number.isFinite(length) && length >= 0) return Math.min(length, maxBytes);
  return req.headers['transfer-encoding'] ? maxBytes : 0;
}

/**
 * What decoding an image body adds to the request's hold, from its header: the gray pixels, twice, since the
 * decoded buffer is copied for the face worker and both live until detection ends. 0 when the header cannot be
 * read here or is over `maxPixels` (the decoder then refuses it cheaply).
 */
export function decodedBytes(image: Buffer, maxPixels: number): number {
  const header = sniffImageHeader(image);
  const pixels = header ? header.width * header.height : 0;
  return pixels <= maxPixels ? 2 * pixels : 0;
}

/** Express form, for the JSON routes: holds the declared body (at most `maxBytes`) until the answer is sent. */
export function admitted(admission: Admission, maxBytes: number) {
  return (req: Request, res: Response, next: NextFunction): void => {
    admission.admit(declaredBytes(req, maxBytes)).releaseWhen(res);
    next();
  };
}
