/**
 * The one exec policy: a `Host` around any `HostTransport` (as Kysely wraps a minimal driver
 * once with its connection policy). Every machine Hitch talks to — this Linux host, a simulated
 * one, one in a simulator daemon, a scripted test host — gets the same rules here, so they are
 * written once:
 *
 * - only allowlisted binaries, with an argument array (no NUL bytes), never a shell;
 * - only paths under the allowed roots (normalised, no `..`); no atomic replace in /sys, /proc, /dev;
 * - a timeout on every command (the host's default when the caller gives none);
 * - secrets masked in the exec record every listener hears and in every error;
 * - exit codes outside `okCodes` (default `[0]`) are `HITCH_EXEC_FAILED`, a command past its
 *   timeout `HITCH_EXEC_TIMEOUT`;
 * - a TCP probe goes to a well-formed address and port with a finite timeout, and only on a
 *   host that can probe (no allowlist: a probe sends nothing, it only learns who answers).
 *
 * A refused call rejects (every method is async), as a failed one does.
 */
import { HitchError } from '../errors.ts';
import type {
  Clock,
  ExecOptions,
  ExecRecord,
  ExecResult,
  Host,
  HostCapabilities,
  HostListener,
  HostTransport,
  TcpProbeOptions,
  TcpProbeResult,
  WaitForPathOptions,
  WriteFileAtomicOptions,
} from '../ports/host.ts';
import { DEFAULT_ALLOWED_BINARIES, DEFAULT_ALLOWED_ROOTS } from './allowlist.ts';
import { checkExec, checkGlob, checkPath, checkReplaceablePath, checkTcpProbe } from './guard.ts';
import { maskArgs, maskText, renderCommand } from './mask.ts';

export interface HostPolicyOptions {
  readonly allowedBinaries?: readonly string[];
  /** Roots file operations may touch; add the data directory here. */
  readonly allowedRoots?: readonly string[];
  /** Timeout for calls that do not give one (ms on the host's clock). */
  readonly defaultTimeoutMs?: number;
}

export class PolicyHost implements Host {
  readonly name: string;
  readonly clock: Clock;
  readonly capabilities: HostCapabilities;
  readonly #t: HostTransport;
  readonly #binaries: readonly string[];
  readonly #roots: readonly string[];
  readonly #defaultTimeoutMs: number;
  readonly #listeners = new Set<HostListener>();

  constructor(transport: HostTransport, opts: HostPolicyOptions = {}) {
    this.#t = transport;
    this.name = transport.name;
    this.clock = transport.clock;
    this.capabilities = transport.capabilities;
    this.#binaries = Object.freeze([...(opts.allowedBinaries ?? DEFAULT_ALLOWED_BINARIES)]);
    this.#roots = Object.freeze([...(opts.allowedRoots ?? DEFAULT_ALLOWED_ROOTS)]);
    this.#defaultTimeoutMs = opts.defaultTimeoutMs ?? 30_000;
  }

  onExec(listener: HostListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    checkExec(cmd, args, this.#binaries);
    const secrets = opts.secrets ?? [];
    const timeoutMs = opts.timeoutMs ?? this.#defaultTimeoutMs;
    const r = await this.#t.run(cmd, args, {
      timeoutMs,
      secrets,
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
    });
    const record: ExecRecord = {
      cmd,
      args: maskArgs(args, secrets),
      code: r.code,
      stdout: maskText(r.stdout, secrets),
      stderr: maskText(r.stderr, secrets),
      startMs: r.startMs,
      endMs: r.endMs,
    };
    for (const l of this.#listeners) l(record);
    const command = renderCommand(cmd, args, secrets);
    if (r.timedOut) throw new HitchError('HITCH_EXEC_TIMEOUT', { timeoutMs, command });
    const ok = opts.okCodes ?? [0];
    if (ok !== 'any' && !ok.includes(r.code)) {
      // What the tool said, from both streams: a daemon's answer (multipathd's `fail`) is on
      // stdout, warnings and errors on stderr.
      const err = record.stderr.trim();
      const out = record.stdout.trim();
      throw new HitchError('HITCH_EXEC_FAILED', { command, exitCode: r.code, stdout: out, stderr: err && out ? `${err} (stdout: ${out})` : err || out });
    }
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  async readFile(path: string): Promise<string> {
    return this.#t.readFile(checkPath(path, this.#roots));
  }

  /** Every path checked first (one outside the roots reads nothing). */
  async readFiles(paths: readonly string[]): Promise<Array<string | null>> {
    return this.#t.readFiles(paths.map((p) => checkPath(p, this.#roots)));
  }

  async writeFile(path: string, data: string): Promise<void> {
    return this.#t.writeFile(checkPath(path, this.#roots), data);
  }

  async writeFileAtomic(path: string, data: string, opts: WriteFileAtomicOptions = {}): Promise<void> {
    const p = checkReplaceablePath(path, this.#roots);
    if (!this.#t.capabilities.atomicWrite) throw new HitchError('HITCH_INTERNAL', { detail: `host ${this.name} cannot replace files atomically (${p})` });
    await this.#t.writeFileAtomic(p, data, opts.mode ?? 0o600);
  }

  async exists(path: string): Promise<boolean> {
    return this.#t.exists(checkPath(path, this.#roots));
  }

  async readlink(path: string): Promise<string> {
    return this.#t.readlink(checkPath(path, this.#roots));
  }

  async realpath(path: string): Promise<string> {
    return this.#t.realpath(checkPath(path, this.#roots));
  }

  async readdir(path: string): Promise<string[]> {
    return this.#t.readdir(checkPath(path, this.#roots));
  }

  async glob(pattern: string): Promise<string[]> {
    checkGlob(pattern, this.#roots);
    return this.#t.glob(pattern);
  }

  async waitForPath(path: string, opts: WaitForPathOptions): Promise<boolean> {
    return this.#t.waitForPath(checkPath(path, this.#roots), opts);
  }

  async probeTcp(address: string, port: number, opts: TcpProbeOptions): Promise<TcpProbeResult> {
    checkTcpProbe(address, port, opts.timeoutMs);
    if (!this.#t.capabilities.tcpProbe) throw new HitchError('HITCH_INTERNAL', { detail: `host ${this.name} cannot probe TCP portals (${address}:${port})` });
    return this.#t.probeTcp(address, port, opts);
  }
}
