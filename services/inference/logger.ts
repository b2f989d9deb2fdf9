/** Structured JSON logs, one object per line on stdout; `silent` keeps test output readable. */
export type LogLevel = 'silent' | 'error' | 'info';
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(level: LogLevel): Logger {
  const write = (lvl: 'info' | 'error', msg: string, fields: Record<string, unknown> = {}) => {
    if (level === 'silent' || (level === 'error' && lvl === 'info')) return;
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields })}\n`);
  };
  return { info: (m, f) => write('info', m, f), error: (m, f) => write('error', m, f) };
}
