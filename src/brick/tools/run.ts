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
 * Run `cmd args` as a child span named `exec <cmd>`. Throws `HITCH_EXEC_FAILED` (masked command,
 * exit code, stderr) for a code outside `okCodes`; timeouts and aborts pass through as the
 * Host raised them.
 */
export async function run(ctx: BrickContext, cmd: string, args: readonly string[], opts: RunOptions): Promise<ExecResult> {
  const command = commandLine(cmd, args, opts.secrets);
  return ctx.span.run(`exec ${cmd}`, { command }, async (span) => {
    const signal = opts.signal ?? ctx.signal;
    let res: ExecResult;
    try {
      res = await ctx.host.exec(cmd, args, {
        okCodes: 'any',
        timeoutMs: opts.timeoutMs,
        ...(opts.secrets ? { secrets: opts.secrets } : {}),
        ...(opts.input !== undefined ? { input: opts.input } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      if (isHitchError(e)) throw e;
      throw new HitchError('HITCH_EXEC_FAILED', { command, exitCode: -1, stderr: maskSecrets(String(e), opts.secrets) }, { cause: e });
    }
    span.set({ exitCode: res.code });
    const ok = opts.okCodes ?? [0];
    if (ok !== 'any' && !ok.includes(res.code)) {
      // Both streams: a daemon's answer (multipathd's `fail`) is on stdout, warnings on stderr.
      const err = res.stderr.trim();
      const out = res.stdout.trim();
      const stderr = maskSecrets(err && out ? `${err} (stdout: ${out})` : err || out, opts.secrets);
      span.set({ stderr });
      throw new HitchError('HITCH_EXEC_FAILED', { command, exitCode: res.code, stderr });
    }
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
