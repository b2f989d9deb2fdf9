/** Structured JSON logs, one object per line on stdout; `silent` keeps test output readable. */
export type LogLevel = 'silent' | 'error' | 'info';
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** The admin audit trail (`"level":"audit"`): written at every level but `silent`, and at once, like errors. */
  audit(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * Info lines are written once per turn of the event loop, together: stdout on a pipe or file is a synchronous
 * write(2) per call, and one per request showed in the service's profile under load. Error lines go out at once
 * (after what is pending, to keep the order), and whatever is pending is written when the process exits.
 */
let pending = '';
let scheduled = false;
let exitHooked = false;

function flush(): void {
  scheduled = false;
  if (!pending) return;
  const chunk = pending;
  pending = '';
  process.stdout.write(chunk);
}

function enqueue(line: string): void {
  pending += line;
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', flush);
  }
  if (pending.length > 64 * 1024) flush();
  else if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

export function createLogger(level: LogLevel): Logger {
  const write = (lvl: 'info' | 'error' | 'audit', msg: string, fields: Record<string, unknown> = {}) => {
    if (level === 'silent' || (level === 'error' && lvl === 'info')) return;
    enqueue(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields })}\n`);
    if (lvl !== 'info') flush();
  };
  return { info: (m, f) => write('info', m, f), error: (m, f) => write('error', m, f), audit: (m, f) => write('audit', m, f) };
}
