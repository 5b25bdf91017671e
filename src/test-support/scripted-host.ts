/**
 * The scripted Host for unit tests: the exec policy every Host has (`host/policy-host.ts`) over
 * a transport whose commands answer from a script, whose files are a map and whose time is a
 * virtual clock. Anything not scripted fails loudly, so a test also pins which calls were made.
 * The script is either an ordered list of the calls expected (a driver's exact `virsh`
 * sequence, each with its answer and its virtual duration) or a function of the command (a
 * tool's canned output, whatever the order; it may answer later, as an emulator does).
 * Scenario tests use the simulator's SimHost instead.
 */
import { HitchError } from '../errors.ts';
import { PolicyHost, type HostPolicyOptions } from '../host/policy-host.ts';
import type { Clock, ExecResult, HostCapabilities, HostTransport, TcpProbeResult, TransportExecOptions, TransportExecResult, WaitForPathOptions } from '../ports/host.ts';
import { VirtualClock } from '../sim/clock.ts';

/** A command's answer, or undefined for "not scripted". */
export type Script = (cmd: string, args: readonly string[], opts: TransportExecOptions) => ExecResult | undefined | Promise<ExecResult | undefined>;

/** One expected call of an ordered script. */
export interface ScriptedCall {
  /** Default `virsh`. */
  readonly cmd?: string;
  readonly args: readonly string[];
  readonly stdout?: string;
  readonly stderr?: string;
  readonly code?: number;
  /** Virtual time the command takes (virsh's 5 s wait for an unplug). */
  readonly durationMs?: number;
}

/** A call as made, with what the assertions look at. */
export interface RecordedCall {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly input?: string;
  readonly secrets?: readonly string[];
  readonly timeoutMs?: number;
  readonly atMs: number;
}

export interface ScriptedHostOptions extends HostPolicyOptions {
  readonly name?: string;
  /** The files the host has, by absolute path (a directory exists when a file is under it). */
  readonly files?: Readonly<Record<string, string>>;
  /** Default: a VirtualClock of its own. */
  readonly clock?: Clock;
  /** Whether `writeFileAtomic` works (default false: brick then uses iscsiadm for node records). */
  readonly atomicWrite?: boolean;
}

class ScriptedTransport implements HostTransport {
  readonly name: string;
  readonly clock: Clock;
  readonly capabilities: HostCapabilities;
  readonly files = new Map<string, string>();
  readonly calls: RecordedCall[] = [];
  readonly #script: Script | ScriptedCall[];

  constructor(script: Script | readonly ScriptedCall[], opts: ScriptedHostOptions) {
    this.name = opts.name ?? 'scripted';
    this.clock = opts.clock ?? new VirtualClock();
    // No TCP probe: a script answers commands, not connects (brick then connects unprobed).
    this.capabilities = { atomicWrite: opts.atomicWrite ?? false, tcpProbe: false };
    this.#script = typeof script === 'function' ? script : [...script];
    for (const [k, v] of Object.entries(opts.files ?? {})) this.files.set(k, v);
  }

  get commands(): string[] {
    return this.calls.map((c) => [c.cmd, ...c.args].join(' '));
  }

  get remaining(): readonly ScriptedCall[] {
    return typeof this.#script === 'function' ? [] : this.#script;
  }

  async run(cmd: string, args: readonly string[], opts: TransportExecOptions): Promise<TransportExecResult> {
    const startMs = this.clock.now();
    this.calls.push({
      cmd,
      args: [...args],
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      ...(opts.secrets.length > 0 ? { secrets: [...opts.secrets] } : {}),
      timeoutMs: opts.timeoutMs,
      atMs: startMs,
    });
    const r = await this.#answer(cmd, args, opts);
    return { ...r, timedOut: false, startMs, endMs: this.clock.now() };
  }

  async #answer(cmd: string, args: readonly string[], opts: TransportExecOptions): Promise<ExecResult> {
    const shown = [cmd, ...args].join(' ');
    if (typeof this.#script === 'function') {
      const r = await this.#script(cmd, args, opts);
      if (!r) throw new Error(`unscripted command: ${shown}`);
      return r;
    }
    const next = this.#script.shift();
    if (!next) throw new Error(`unexpected command: ${shown}`);
    const want = [next.cmd ?? 'virsh', ...next.args].join(' ');
    if (want !== shown) throw new Error(`expected command: ${want}\n     got command: ${shown}`);
    if (next.durationMs) await this.clock.sleep(next.durationMs);
    return { code: next.code ?? 0, stdout: next.stdout ?? '', stderr: next.stderr ?? '' };
  }

  async readFile(path: string): Promise<string> {
    const v = this.files.get(path);
    // As LinuxHost and SimHost report a missing file.
    if (v === undefined) throw new HitchError('HITCH_PATH_NOT_FOUND', { path });
    return v;
  }

  async writeFile(path: string, data: string): Promise<void> {
    this.files.set(path, data);
  }

  async exists(path: string): Promise<boolean> {
    return this.files.has(path) || [...this.files.keys()].some((k) => k.startsWith(path + '/'));
  }

  async readlink(path: string): Promise<string> {
    return this.readFile(path);
  }

  async realpath(path: string): Promise<string> {
    return path;
  }

  async readdir(path: string): Promise<string[]> {
    const names = new Set<string>();
    for (const k of this.files.keys()) if (k.startsWith(path + '/')) names.add(k.slice(path.length + 1).split('/')[0] ?? '');
    return [...names].sort();
  }

  async readFiles(paths: readonly string[]): Promise<Array<string | null>> {
    return paths.map((p) => this.files.get(p) ?? null);
  }

  async writeFileAtomic(path: string, data: string): Promise<void> {
    this.files.set(path, data);
  }

  async glob(): Promise<string[]> {
    return [];
  }

  async waitForPath(path: string, opts: WaitForPathOptions): Promise<boolean> {
    return (await this.exists(path)) !== (opts.gone ?? false);
  }

  /** Never reached: the exec policy refuses a probe on a host without `tcpProbe`. */
  async probeTcp(address: string, port: number): Promise<TcpProbeResult> {
    throw new HitchError('HITCH_INTERNAL', { detail: `scripted host ${this.name} cannot probe ${address}:${port}` });
  }
}

export class ScriptedHost extends PolicyHost {
  readonly #t: ScriptedTransport;

  constructor(script: Script | readonly ScriptedCall[], opts: ScriptedHostOptions = {}) {
    const t = new ScriptedTransport(script, opts);
    super(t, opts);
    this.#t = t;
  }

  /** The host's files (a test may change them between calls). */
  get files(): Map<string, string> {
    return this.#t.files;
  }

  /** Every command that reached the host, with its input, secrets, timeout and time. */
  get calls(): RecordedCall[] {
    return this.#t.calls;
  }

  /** Every command line run, in order. */
  get commands(): string[] {
    return this.#t.commands;
  }

  /** Calls of an ordered script still expected; a test ends with none. */
  get remaining(): readonly ScriptedCall[] {
    return this.#t.remaining;
  }
}

export const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
export const fail = (code: number, stderr = '', stdout = ''): ExecResult => ({ code, stdout, stderr });
