/**
 * `RecordingHost`: wraps any Host and records every call, in order, with secrets masked — so a
 * test can pin the exact command sequence an initiator workflow issues, as os-brick's own
 * tests do, and compare it with `../shared/fixtures/host/os-brick-*-trace.jsonl`.
 */
import type { Clock, ExecOptions, ExecResult, Host, HostCapabilities, HostListener, TcpProbeOptions, TcpProbeOutcome, TcpProbeResult, WaitForPathOptions, WriteFileAtomicOptions } from '../ports/host.ts';
import { maskArgs, maskText } from './mask.ts';

export type RecordedCall =
  | { readonly op: 'exec'; readonly cmd: string; readonly args: readonly string[]; readonly code: number | null; readonly atMs: number }
  | { readonly op: 'readFiles'; readonly paths: readonly string[]; readonly atMs: number }
  | { readonly op: 'readFile' | 'exists' | 'readlink' | 'realpath' | 'readdir' | 'glob'; readonly path: string; readonly atMs: number }
  | { readonly op: 'writeFile'; readonly path: string; readonly data: string; readonly atMs: number }
  | { readonly op: 'writeFileAtomic'; readonly path: string; readonly data: string; readonly mode: number; readonly atMs: number }
  | { readonly op: 'waitForPath'; readonly path: string; readonly gone: boolean; readonly result: boolean | null; readonly atMs: number }
  | { readonly op: 'probeTcp'; readonly address: string; readonly port: number; readonly outcome: TcpProbeOutcome | null; readonly atMs: number };

export class RecordingHost implements Host {
  readonly #inner: Host;
  readonly #calls: RecordedCall[] = [];

  constructor(inner: Host) {
    this.#inner = inner;
  }

  get name(): string {
    return this.#inner.name;
  }

  get capabilities(): HostCapabilities {
    return this.#inner.capabilities;
  }

  writeFileAtomic(path: string, data: string, opts?: WriteFileAtomicOptions): Promise<void> {
    this.#calls.push({ op: 'writeFileAtomic', path, data: maskText(data, opts?.secrets ?? []), mode: opts?.mode ?? 0o600, atMs: this.clock.now() });
    return this.#inner.writeFileAtomic(path, data, opts);
  }

  get clock(): Clock {
    return this.#inner.clock;
  }

  /** Every call so far, in the order it was made. */
  get calls(): readonly RecordedCall[] {
    return this.#calls;
  }

  /** The commands only, as command lines: `iscsiadm -m session`. */
  commands(): string[] {
    return this.#calls.flatMap((c) => (c.op === 'exec' ? [[c.cmd, ...c.args].join(' ')] : []));
  }

  /** TCP probes only, as `address:port outcome` (`null` while one is under way or when it threw). */
  probes(): string[] {
    return this.#calls.flatMap((c) => (c.op === 'probeTcp' ? [`${c.address}:${c.port} ${c.outcome ?? 'null'}`] : []));
  }

  /** Writes only, as `path <- data` (sysfs scans and deletes). */
  writes(): string[] {
    return this.#calls.flatMap((c) => (c.op === 'writeFile' ? [`${c.path} <- ${c.data.trim()}`] : []));
  }

  /** Files replaced with `writeFileAtomic`, as `path (mode)`. */
  replaced(): string[] {
    return this.#calls.flatMap((c) => (c.op === 'writeFileAtomic' ? [`${c.path} (${c.mode.toString(8).padStart(4, '0')})`] : []));
  }

  clear(): void {
    this.#calls.length = 0;
  }

  onExec(listener: HostListener): () => void {
    return this.#inner.onExec(listener);
  }

  async exec(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    const secrets = opts?.secrets ?? [];
    const call = { op: 'exec' as const, cmd, args: maskArgs(args, secrets), code: null as number | null, atMs: this.clock.now() };
    this.#calls.push(call);
    try {
      const r = await this.#inner.exec(cmd, args, opts);
      call.code = r.code;
      return r;
    } catch (e) {
      const code = (e as { details?: { exitCode?: unknown } }).details?.exitCode;
      if (typeof code === 'number') call.code = code;
      throw e;
    }
  }

  readFile(path: string): Promise<string> {
    this.#calls.push({ op: 'readFile', path, atMs: this.clock.now() });
    return this.#inner.readFile(path);
  }

  /** Recorded as one call, as it is one call on the wrapped Host. */
  readFiles(paths: readonly string[]): Promise<Array<string | null>> {
    this.#calls.push({ op: 'readFiles', paths: [...paths], atMs: this.clock.now() });
    return this.#inner.readFiles(paths);
  }

  writeFile(path: string, data: string): Promise<void> {
    this.#calls.push({ op: 'writeFile', path, data: maskText(data), atMs: this.clock.now() });
    return this.#inner.writeFile(path, data);
  }

  exists(path: string): Promise<boolean> {
    this.#calls.push({ op: 'exists', path, atMs: this.clock.now() });
    return this.#inner.exists(path);
  }

  readlink(path: string): Promise<string> {
    this.#calls.push({ op: 'readlink', path, atMs: this.clock.now() });
    return this.#inner.readlink(path);
  }

  realpath(path: string): Promise<string> {
    this.#calls.push({ op: 'realpath', path, atMs: this.clock.now() });
    return this.#inner.realpath(path);
  }

  readdir(path: string): Promise<string[]> {
    this.#calls.push({ op: 'readdir', path, atMs: this.clock.now() });
    return this.#inner.readdir(path);
  }

  glob(pattern: string): Promise<string[]> {
    this.#calls.push({ op: 'glob', path: pattern, atMs: this.clock.now() });
    return this.#inner.glob(pattern);
  }

  async probeTcp(address: string, port: number, opts: TcpProbeOptions): Promise<TcpProbeResult> {
    const call = { op: 'probeTcp' as const, address, port, outcome: null as TcpProbeOutcome | null, atMs: this.clock.now() };
    this.#calls.push(call);
    const r = await this.#inner.probeTcp(address, port, opts);
    call.outcome = r.outcome;
    return r;
  }

  async waitForPath(path: string, opts: WaitForPathOptions): Promise<boolean> {
    const call = { op: 'waitForPath' as const, path, gone: opts.gone ?? false, result: null as boolean | null, atMs: this.clock.now() };
    this.#calls.push(call);
    const r = await this.#inner.waitForPath(path, opts);
    call.result = r;
    return r;
  }
}
