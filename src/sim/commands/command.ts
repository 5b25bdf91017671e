/**
 * What a simulated command gets and returns. A handler may `sleep` on the virtual clock (a
 * login round trip, a scan); when the caller's timeout passes, the signal aborts and the sleep
 * rejects, so a timed-out command stops where it was, like a killed process.
 */
import type { SimComputeHost } from '../compute-host.ts';
import type { SimWorld } from '../world.ts';

export interface CommandContext {
  readonly host: SimComputeHost;
  readonly world: SimWorld;
  readonly cmd: string;
  readonly args: readonly string[];
  readonly input: string;
  readonly signal: AbortSignal;
  /** Sleep on the virtual clock, aborted with the command. */
  sleep(ms: number): Promise<void>;
}

export interface CommandOutput {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export type CommandHandler = (ctx: CommandContext) => Promise<CommandOutput>;

export function out(code: number, stdout = '', stderr = ''): CommandOutput {
  return { code, stdout, stderr };
}

/** Lines joined with a trailing newline, or '' for none. */
export function lines(ls: readonly string[]): string {
  return ls.length === 0 ? '' : ls.join('\n') + '\n';
}

/**
 * Parse `-x value`, `--long value`, `--long=value` and bare flags. `withValue` lists the
 * options that take a value (short and long spellings). Unknown options are returned so the
 * caller can answer with the tool's own usage error.
 */
export function parseOptions(
  args: readonly string[],
  withValue: ReadonlySet<string>,
  flags: ReadonlySet<string>,
): { opts: Map<string, string[]>; positional: string[]; unknown?: string; missingValue?: string } {
  const opts = new Map<string, string[]>();
  const positional: string[] = [];
  const push = (k: string, v: string): void => {
    const list = opts.get(k) ?? [];
    list.push(v);
    opts.set(k, list);
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a.startsWith('--') && a.includes('=')) {
      const k = a.slice(0, a.indexOf('='));
      if (!withValue.has(k)) return { opts, positional, unknown: a };
      push(k, a.slice(a.indexOf('=') + 1));
    } else if (withValue.has(a)) {
      const v = args[i + 1];
      if (v === undefined) return { opts, positional, missingValue: a };
      push(a, v);
      i++;
    } else if (flags.has(a)) {
      push(a, '');
    } else if (a.startsWith('-') && a !== '-') {
      return { opts, positional, unknown: a };
    } else {
      positional.push(a);
    }
  }
  return { opts, positional };
}
