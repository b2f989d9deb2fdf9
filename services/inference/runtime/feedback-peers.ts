import type { Discover } from '../../../lib/inference-admin/discovery';
import { AppError } from '../errors';
import type { FeedbackInput, FeedbackOutput } from '../usecases/feedback';

/** A peer appends one line and fsyncs; one that takes longer is counted as unreachable, and the client retries. */
const PEER_TIMEOUT_MS = 3_000;
/** What a client is told to wait when the replica that may remember its prediction did not answer. */
const RETRY_AFTER_S = 5;

/** A peer's answer: its status and JSON body, or why there was none. */
interface PeerAnswer {
  url: string;
  status?: number;
  body?: PeerBody;
  unreachable?: string;
}
type PeerBody = Partial<FeedbackOutput> & { error?: { code?: string; message?: string } };

/**
 * The other replicas of the fleet, asked for a label whose prediction this replica did not make. Only the replica
 * that answered remembers the prediction (its version, classes and crop); HAProxy sends feedback there, but a
 * Kubernetes Service balances per connection, so feedback reaches any replica. All are asked at once through their
 * admin API (`POST /admin/v1/feedback`, which never passes a label on again); the one that remembers stores it.
 */
export class FeedbackPeers {
  constructor(
    private readonly discover: Discover,
    private readonly token: string,
    private readonly log: (message: string, fields: Record<string, unknown>) => void,
  ) {}

  async forward(input: FeedbackInput): Promise<FeedbackOutput> {
    let urls: string[];
    try {
      urls = await this.discover();
    } catch (e) {
      throw unavailable(`the other replicas could not be listed (${(e as Error).message})`);
    }
    const answers = await Promise.all(urls.map((url) => this.ask(url, input)));
    const stored = answers.find((a) => a.status === 200);
    if (stored) return stored.body as FeedbackOutput;
    // A replica that remembers the prediction but refuses the label (face out of range, already labelled) decides.
    const refused = answers.find((a) => a.status === 400 || a.status === 409);
    if (refused) throw new AppError(refused.status!, refused.body?.error?.code ?? 'invalid_request', refused.body?.error?.message ?? 'refused by the replica that made the prediction');
    const silent = answers.filter((a) => a.status !== 404);
    if (silent.length === 0) {
      throw new AppError(404, 'unknown_request', `no recent prediction ${input.requestId} on any of ${urls.length} replica(s) (unknown, or older than the feedback TTL)`);
    }
    for (const a of silent) this.log('feedback: a replica could not be asked', { peer: a.url, status: a.status, error: a.unreachable });
    throw unavailable(`${silent.length} of ${urls.length} replica(s) did not answer, and the prediction may be theirs`);
  }

  private async ask(url: string, input: FeedbackInput): Promise<PeerAnswer> {
    try {
      const res = await fetch(new URL('/admin/v1/feedback', url), {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(input),
        signal: AbortSignal.timeout(PEER_TIMEOUT_MS),
      });
      return { url, status: res.status, body: (await res.json().catch(() => undefined)) as PeerBody | undefined };
    } catch (e) {
      return { url, unreachable: (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message };
    }
  }
}

const unavailable = (why: string) =>
  Object.assign(new AppError(503, 'feedback_unavailable', `feedback not stored: ${why}; try again`), { retryAfterS: RETRY_AFTER_S });
