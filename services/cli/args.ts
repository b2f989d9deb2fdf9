/** `--flag value` / `--flag=value` / `--switch` / positional parsing against what each command accepts. */
export interface ParsedArgs { positional: string[]; flags: Record<string, string | true> }

/** A command's arguments: flags that take a value, switches that do not, and at most `positionals` others. */
export interface CommandSpec { usage: string; values?: readonly string[]; switches?: readonly string[]; positionals: number }

/** A command line the command does not accept: main prints it with the command's usage and exits 2. */
export class UsageError extends Error {}

/**
 * Parses `argv` for a command. `--help` (or `-h`) anywhere sets flags.help. Anything the command does not know is
 * refused rather than ignored: a misspelt `--epoch 5` trained with the default epochs, and `train --help` started a
 * pipeline. A switch never takes the next word, so `predict --json photo.jpg` reads the photo.
 */
export function parseArgs(argv: string[], spec: CommandSpec): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  const values = new Set(spec.values), switches = new Set(spec.switches);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') continue;
    if (a === '--help' || a === '-h') {
      flags.help = true;
      continue;
    }
    if (!a.startsWith('--')) {
      if (positional.length === spec.positionals) throw new UsageError(`unexpected argument "${a}"`);
      positional.push(a);
      continue;
    }
    const [key, inline] = a.slice(2).split(/=(.*)/s, 2);
    if (switches.has(key)) {
      if (inline !== undefined) throw new UsageError(`--${key} takes no value`);
      flags[key] = true;
    } else if (values.has(key)) {
      const value = inline ?? (i + 1 < argv.length && !argv[i + 1].startsWith('--') ? argv[++i] : undefined);
      if (value === undefined) throw new UsageError(`--${key} needs a value`);
      flags[key] = value;
    } else {
      throw new UsageError(`unknown option --${key}`);
    }
  }
  return { positional, flags };
}

export function numberFlag(flags: ParsedArgs['flags'], key: string): number | undefined {
  const v = flags[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v === true || v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${key} needs a number, got "${v === true ? '' : v}"`);
  return n;
}
