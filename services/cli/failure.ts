import { rootCauseMessage } from '../../lib/pipeline-progress';

/**
 * One line for a command that failed. A failed pipeline reaches the CLI as "Workflow execution failed", which says
 * nothing a user can act on: the line adds the activity that failed and the deepest cause (what the activity said).
 */
export function describeFailure(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const root = rootCauseMessage(e);
  if (root === message) return message;
  const activity = failedActivity(e);
  return `${message}${activity ? ` in ${activity}` : ''}: ${root}`;
}

/** The failed stage and the deepest cause (`train: bad_config: ...`), for where the status says it failed already. */
export function failureCause(e: unknown): string {
  const activity = failedActivity(e);
  return `${activity ? `${activity}: ` : ''}${rootCauseMessage(e)}`;
}

/** The activity type named along a failure chain (Temporal's ActivityFailure carries it), if any. */
function failedActivity(e: unknown): string | undefined {
  for (let f: unknown = e; f instanceof Error; f = f.cause) {
    const type = (f as { activityType?: unknown }).activityType;
    if (typeof type === 'string') return type;
  }
  return undefined;
}
