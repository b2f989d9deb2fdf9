import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ParsedUrlQuery, parse as parseQuery } from 'node:querystring';
import type { ServiceContext } from '../context';
import { isMinFace, MIN_FACE } from '../config';
import { type DetectorName, SMALL_FACE_DETECTORS } from '../runtime/detectors';
import { AppError } from '../errors';
import { type Ticket, declaredBytes, decodedBytes } from '../http/admission';
import { errorReply } from '../http/error-handler';
import { imageReader } from '../http/image-body';
import { rateLimiter } from '../http/rate-limit';
import { type AccessFields, logWhenFinished, requestIdFrom } from '../http/request-context';
import { predict } from '../usecases/predict';

/**
 * POST /v1/predict, served on plain node:http rather than through express. Why: on a 48x48 crop express' routing,
 * body parser and `res.json` (etag and all) cost about as much per request as the demo model's inference, and
 * leaving them out raised crop throughput (docs/inference.md#design-measurements-moved-from-code-comments). The
 * behaviour is express' own: same request ids, access log line, error body (`errorReply`), body limits, routing
 * (case-insensitive, optional trailing slash) and query parsing. Every other route stays in express.
 */
const PREDICT_PATH = /^\/v1\/predict\/?$/i;

/**
 * `?detect=` and `?crops=`, parsed by hand rather than with zod like the other routes: zod 3's parse leaves objects
 * that survive young-generation collections (node's querystring alone leaves far fewer), and on this route that made
 * every crop request promote memory and scavenges slow (docs/inference.md#design-measurements-moved-from-code-comments).
 */
function booleanParam(query: ParsedUrlQuery, name: string, fallback: boolean): boolean {
  const v = query[name];
  if (v === undefined) return fallback;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new AppError(400, 'invalid_request', `${name}: expected one of true, false, 1, 0; got ${JSON.stringify(v)}`);
}

/**
 * `?minFace=`: the small-face search's smallest face for this photo (FEROPS_DETECT_MIN_FACE's meaning), so that a
 * client whose photo holds small faces can ask for the search without the service paying for it on every photo;
 * 0 turns a configured search off. Absent: the configured value.
 */
function minFaceParam(query: ParsedUrlQuery, detector: DetectorName): number | undefined {
  const v = query.minFace;
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : Number.NaN;
  if (!isMinFace(n)) {
    throw new AppError(400, 'invalid_request', `minFace: expected 0 (no small-face search) or a face height of ${MIN_FACE.window} to ${MIN_FACE.max} px; got ${JSON.stringify(v)}`);
  }
  if (n > 0 && !SMALL_FACE_DETECTORS.includes(detector)) {
    throw new AppError(400, 'invalid_request', `minFace: the ${detector} detector has no small-face search (FEROPS_FACE_DETECTOR ${SMALL_FACE_DETECTORS.join(' or ')} has)`);
  }
  return n;
}

export function isPredictRequest(req: IncomingMessage): boolean {
  return req.method === 'POST' && PREDICT_PATH.test(pathOf(req.url ?? '/'));
}

export function predictHandler(ctx: ServiceContext): (req: IncomingMessage, res: ServerResponse) => void {
  const readImage = imageReader(ctx.config.maxBodyBytes);
  const limit = rateLimiter(ctx.config.rateLimitRps);
  return (req, res) => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const url = req.url ?? '/';
    const fields: AccessFields = {};
    res.setHeader('x-request-id', requestId);
    logWhenFinished(ctx.logger, req, res, requestId, pathOf(url), fields);
    const answer = async () => {
      limit(ctx.clientAddress(req));
      const ticket = ctx.admission.admit(declaredBytes(req, ctx.config.maxBodyBytes));
      const work = readAndPredict(ticket);
      ticket.releaseWhen(res, work);
      await work;
    };
    const readAndPredict = async (ticket: Ticket) => {
      const image = await readImage(req, res, (bytes) => ticket.atLeast(bytes));
      ticket.hold(image.length + decodedBytes(image, ctx.config.maxPixels));
      const query = parseQuery(url.slice(pathOf(url).length + 1));
      const detect = booleanParam(query, 'detect', true);
      const crops = booleanParam(query, 'crops', false);
      const minFace = minFaceParam(query, ctx.config.faceDetector);
      const out = await predict(ctx, { image, detect, crops, minFace, routeKey: header(req, 'x-ferops-route-key'), requestId });
      fields.slot = out.slot;
      fields.modelVersion = out.modelVersion;
      res.setHeader('x-model-version', out.modelVersion);
      const { generation, ...body } = out;
      // Which deployment state answered: a client or a test can attribute answers to a canary window.
      if (generation !== undefined) res.setHeader('x-ferops-generation', String(generation));
      sendJson(res, 200, body);
    };
    answer().catch((err: unknown) => {
      const reply = errorReply(err, requestId, ctx.logger);
      fields.errorCode = reply.code;
      if (res.headersSent) return void res.end();
      if (reply.retryAfterS !== undefined) res.setHeader('retry-after', String(reply.retryAfterS));
      sendJson(res, reply.status, reply.body);
    });
  };
}

const pathOf = (url: string) => {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
};

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) || undefined;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(json));
  res.end(json);
}
