/**
 * The Host port: the one seam between Hitch and the machine it runs on.
 *
 * Everything above `host/` reaches commands, `/sys`, `/dev`, `/etc` and time only through
 * `Host`, so the same initiator code runs on a real Linux host (`LinuxHost`), on the simulator
 * (`SimHost`), on a simulator daemon's host (`RemoteHost`), and under a recorder
 * (`RecordingHost`) that lets tests pin the exact command sequence.
 *
 * A `Host` is one exec policy (`host/policy-host.ts`: allowlist, path roots, timeouts, accepted
 * exit codes, masking, the exec record) around a `HostTransport`, which only carries calls to a
 * machine — real, simulated or remote — and reports what happened.
 */

export interface ExecOptions {
  /** Kill the command after this long. Every call has one; the default is the host's. */
  readonly timeoutMs?: number;
  /** Written to the command's stdin. */
  readonly input?: string;
  /**
   * Exit codes that count as success (os-brick's `check_exit_code`). Default `[0]`. Any other
   * code throws `HITCH_EXEC_FAILED`. Pass `'any'` to get every result back without throwing.
   */
  readonly okCodes?: readonly number[] | 'any';
  /** Values to mask in every log line, trace and error of this call (CHAP passwords, tokens). */
  readonly secrets?: readonly string[];
  readonly signal?: AbortSignal;
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Clock {
  /** Milliseconds since the epoch (real) or since the simulation began (virtual). */
  now(): number;
  /** Resolves after `ms`; rejects with `HITCH_ABORTED` when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface WaitForPathOptions {
  readonly timeoutMs: number;
  /** Wait for the path to disappear instead of appear. */
  readonly gone?: boolean;
  readonly signal?: AbortSignal;
}

export interface WriteFileAtomicOptions {
  /** Permission bits of the file. Default 0o600: readable by root only (it may hold a CHAP secret). */
  readonly mode?: number;
  /** Values to mask wherever the write is recorded (the data is never logged, but recordings keep it). */
  readonly secrets?: readonly string[];
}

/** One command as run, for logs and recordings; secrets already masked. */
export interface ExecRecord {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly startMs: number;
  readonly endMs: number;
}

export type HostListener = (event: ExecRecord) => void;

/** What a host can do beyond the common calls; callers read the flag instead of probing for a method. */
export interface HostCapabilities {
  /**
   * `writeFileAtomic` replaces a regular file by rename. Without it (a scripted test host) the
   * call fails, and brick makes node records with `iscsiadm` instead of writing them.
   */
  readonly atomicWrite: boolean;
  /**
   * `probeTcp` opens a TCP connection from this host. Without it (a scripted test host) the
   * call fails, and brick connects NVMe/TCP portals without probing them first.
   */
  readonly tcpProbe: boolean;
}

/**
 * How a TCP connect from the host ended, as the peer (or the network) answered it:
 * `open` the handshake completed (closed again at once), `refused` a reset came back
 * (ECONNREFUSED: the host is up, nothing listens), `timeout` nothing came back within the
 * probe's timeout (a dropping firewall, a dead host), `unreachable` the host's own stack or a
 * router said no route (EHOSTUNREACH, ENETUNREACH, a name that does not resolve).
 */
export type TcpProbeOutcome = 'open' | 'refused' | 'timeout' | 'unreachable';

export interface TcpProbeOptions {
  /** Give up (outcome `timeout`) after this long on the host's clock. */
  readonly timeoutMs: number;
  /** Rejects the call with `HITCH_ABORTED` (the caller no longer wants the answer). */
  readonly signal?: AbortSignal;
}

export interface TcpProbeResult {
  readonly outcome: TcpProbeOutcome;
  /** From the probe's start to its outcome, on the host's clock. */
  readonly elapsedMs: number;
}

export interface Host {
  /** The host's name (the compute host it is, e.g. `newton`). */
  readonly name: string;
  readonly clock: Clock;
  readonly capabilities: HostCapabilities;

  /** Run an allowlisted binary with an argument array (never a shell). */
  exec(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;

  readFile(path: string): Promise<string>;
  /**
   * Read several files in one call: each entry is the file's content, or null when it does
   * not exist (what `readFile` reports as `HITCH_PATH_NOT_FOUND`); any other failure (a path
   * outside the roots, a sysfs attribute answering EIO) rejects the whole call. One call, so
   * one round trip to a remote host: a session's `targetname` + portal, a disk's `wwid` + `ro`.
   */
  readFiles(paths: readonly string[]): Promise<Array<string | null>>;
  /** Write (truncate) a file; for sysfs this is the `echo X > file` of shell scripts. */
  writeFile(path: string, data: string): Promise<void>;
  /**
   * Replace a regular file atomically: write a temporary file in the same directory, flush it,
   * then rename it over `path`, so a reader (iscsid reading a node record) sees the old
   * content or the new one, never part of it. Missing parent directories are created (0o700).
   * Not for sysfs. Only where `capabilities.atomicWrite`.
   */
  writeFileAtomic(path: string, data: string, opts?: WriteFileAtomicOptions): Promise<void>;
  exists(path: string): Promise<boolean>;
  /** The target of a symlink, as stored (may be relative, e.g. `../../sdb`). */
  readlink(path: string): Promise<string>;
  /** The canonical absolute path, following every link. */
  realpath(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
  /** Expand `*` and `?` in the last components of `pattern`; sorted. */
  glob(pattern: string): Promise<string[]>;

  /**
   * Resolve `true` once `path` exists (or, with `gone`, no longer exists), `false` when
   * `timeoutMs` passes first. Event-driven (fs.watch / the simulator's udev), never polling
   * with fixed sleeps.
   */
  waitForPath(path: string, opts: WaitForPathOptions): Promise<boolean>;

  /**
   * Open a TCP connection from this host to `address`:`port` and close it at once (no byte is
   * sent): whether the portal answers, before anything that would wait on it longer (the
   * kernel's NVMe-oF controller creation holds one lock for the whole host while it connects).
   * The peer's answer is the result, never an error; the call rejects only for a bad address
   * or port (`HITCH_INVALID_ARGUMENT`), an abort, or a host without `capabilities.tcpProbe`.
   */
  probeTcp(address: string, port: number, opts: TcpProbeOptions): Promise<TcpProbeResult>;

  /** Observe every exec as it completes (for traces and logs). Returns an unsubscribe. */
  onExec(listener: HostListener): () => void;
}

/** A command as a transport runs it: already checked, with its timeout decided. */
export interface TransportExecOptions {
  readonly timeoutMs: number;
  readonly input?: string;
  /** The call's secrets, for a transport that keeps a log of its own (the simulator's trace). */
  readonly secrets: readonly string[];
  readonly signal?: AbortSignal;
}

/** How a command ended, as the transport saw it: an exit code or a timeout is an answer here, not an error. */
export interface TransportExecResult extends ExecResult {
  readonly timedOut: boolean;
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * A machine's calls with no policy: no allowlist, no root check, no masking, no exit-code rule —
 * `host/policy-host.ts` wraps a transport into a `Host` once, for every kind of machine. A
 * transport rejects only when a call could not be carried out (a missing file is
 * `HITCH_PATH_NOT_FOUND`, an aborted call `HITCH_ABORTED`).
 */
export interface HostTransport {
  readonly name: string;
  readonly clock: Clock;
  readonly capabilities: HostCapabilities;
  run(cmd: string, args: readonly string[], opts: TransportExecOptions): Promise<TransportExecResult>;
  readFile(path: string): Promise<string>;
  readFiles(paths: readonly string[]): Promise<Array<string | null>>;
  writeFile(path: string, data: string): Promise<void>;
  writeFileAtomic(path: string, data: string, mode: number): Promise<void>;
  exists(path: string): Promise<boolean>;
  readlink(path: string): Promise<string>;
  realpath(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
  glob(pattern: string): Promise<string[]>;
  waitForPath(path: string, opts: WaitForPathOptions): Promise<boolean>;
  /** As `Host.probeTcp`, the address and port already checked; only where `capabilities.tcpProbe`. */
  probeTcp(address: string, port: number, opts: TcpProbeOptions): Promise<TcpProbeResult>;
}
