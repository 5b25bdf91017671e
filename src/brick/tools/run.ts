/**
 * The one way brick runs a command: through the Host port, inside a span, with a timeout, the
 * exit codes the tool's wrapper accepts, and secrets masked in the span, the log and the error.
 */
import type { ExecResult, Host } from '../../ports/host.ts';
import { HitchError, isHitchError } from '../../errors.ts';
import type { Span } from '../../trace/span.ts';
import { maskSecrets, type BrickLogger } from '../log.ts';

/** What every brick step needs: the machine, the caller's span, and where logs go. */
export interface BrickContext {
  readonly host: Host;
  readonly span: Span;
  readonly logger?: BrickLogger;
  readonly signal?: AbortSignal;
}

export interface RunOptions {
  /** Exit codes that count as success; `'any'` returns every result. Default `[0]`. */
  readonly okCodes?: readonly number[] | 'any';
  readonly timeoutMs: number;
  readonly secrets?: readonly string[];
  readonly input?: string;
  readonly signal?: AbortSignal;
}

export function commandLine(cmd: string, args: readonly string[], secrets?: readonly string[]): string {
  return maskSecrets([cmd, ...args].join(' '), secrets);
}

/**
 * Run `cmd args` as a child span named `exec <cmd>`, with the exit codes the tool's wrapper
 * accepts: the Host's exec policy throws `HITCH_EXEC_FAILED` (masked command, exit code, what
 * the tool said) for any other, and timeouts and aborts pass through as the Host raised them.
 * The span keeps the exit code, and on a refused code what the tool said.
 */
export async function run(ctx: BrickContext, cmd: string, args: readonly string[], opts: RunOptions): Promise<ExecResult> {
  const command = commandLine(cmd, args, opts.secrets);
  return ctx.span.run(`exec ${cmd}`, { command }, async (span) => {
    const signal = opts.signal ?? ctx.signal;
    let res: ExecResult;
    try {
      res = await ctx.host.exec(cmd, args, {
        okCodes: opts.okCodes ?? [0],
        timeoutMs: opts.timeoutMs,
        ...(opts.secrets ? { secrets: opts.secrets } : {}),
        ...(opts.input !== undefined ? { input: opts.input } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      if (isHitchError(e, 'HITCH_EXEC_FAILED')) {
        const { exitCode, stderr } = e.details;
        span.set({ exitCode: typeof exitCode === 'number' ? exitCode : null, stderr: typeof stderr === 'string' ? stderr : null });
      }
      if (isHitchError(e)) throw e;
      throw new HitchError('HITCH_EXEC_FAILED', { command, exitCode: -1, stderr: maskSecrets(String(e), opts.secrets) }, { cause: e });
    }
    span.set({ exitCode: res.code });
    return res;
  });
}

/**
 * A cleanup step that must not stop the cleanup: `attempt(what, fn)` runs `fn`, and a failure
 * becomes a `what: message` line in `failures` instead of a throw. True when `fn` succeeded.
 */
export function failureCollector(failures: string[]): (what: string, fn: () => Promise<unknown>) => Promise<boolean> {
  return async (what, fn) => {
    try {
      await fn();
      return true;
    } catch (e) {
      failures.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  };
}
