import { loadConfig } from '../../../lib/config';
import { LABELS } from '../../../lib/labels';
import { type CommandSpec, numberFlag, type ParsedArgs, UsageError } from '../args';
import { callService } from '../service-call';

export const FEEDBACK_ARGS: CommandSpec = {
  usage: 'feedback <request id> <label> [--face N] [--url URL]', values: ['face', 'url'], positionals: 2,
};

interface FeedbackAnswer {
  faceIndex: number;
  modelVersion: string;
  predicted: string;
  label: string;
  correct: boolean;
}

/**
 * Labels a face of a recent `ferops predict` answer (POST /v1/feedback): what live accuracy is made of. `--face` counts
 * from 1, as `predict` prints the faces (the API's faceIndex counts from 0); it may be left out for a one-face answer.
 */
export async function feedbackCommand(args: ParsedArgs): Promise<number> {
  const [requestId, label] = args.positional;
  if (!requestId || !label) throw new UsageError(`needs the request id a prediction printed and a label (${LABELS.join(', ')})`);
  const face = numberFlag(args.flags, 'face');
  if (face !== undefined && (!Number.isInteger(face) || face < 1)) throw new UsageError('--face counts from 1, as predict prints the faces');
  const url = new URL('/v1/feedback', typeof args.flags.url === 'string' ? args.flags.url : loadConfig().inferenceUrl);
  const body = { requestId, label, ...(face === undefined ? {} : { faceIndex: face - 1 }) };
  const a = await callService<FeedbackAnswer>(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, 'feedback');
  console.log(`face ${a.faceIndex + 1} of ${requestId} labelled ${a.label}: model v${a.modelVersion} said ${a.predicted} (${a.correct ? 'right' : 'wrong'})`);
  return 0;
}
