/**
 * `SimHost`: the Host port answered by one compute host of a simulation (`src/sim/`).
 *
 * It refuses exactly what `LinuxHost` refuses (the shared checks of `guard.ts`), masks secrets
 * the same way, applies the same `okCodes` and timeout rules, and its clock is the
 * simulation's virtual clock — so initiator code runs against it unchanged, and a 120 s login
 * timeout costs microseconds. `waitForPath` listens to the simulated udev and sysfs; it never
 * polls.
 */
import { posix } from 'node:path';
import { HitchError } from '../errors.ts';
import type { VirtualClock } from './clock.ts';
import type { SimComputeHost } from './compute-host.ts';
import type { Scenario } from './scenario.ts';
import { Simulation, type SimulationOptions } from './simulation.ts';
import { VfsError } from './vfs.ts';
import { checkExec, checkGlob, checkPath, checkReplaceablePath } from '../host/guard.ts';
import type { ExecOptions, ExecRecord, ExecResult, Host, HostListener, WaitForPathOptions, WriteFileAtomicOptions } from '../ports/host.ts';
import { DEFAULT_ALLOWED_BINARIES, DEFAULT_ALLOWED_ROOTS } from '../host/allowlist.ts';
import { maskArgs, maskText, renderCommand } from '../host/mask.ts';

export interface SimHostOptions {
  readonly allowedBinaries?: readonly string[];
  readonly allowedRoots?: readonly string[];
  /** Timeout for calls that do not give one (virtual ms; LinuxHost's default too). */
  readonly defaultTimeoutMs?: number;
}

export class SimHost implements Host {
  readonly name: string;
  readonly sim: Simulation;
  readonly clock: VirtualClock;
  readonly #binaries: readonly string[];
  readonly #roots: readonly string[];
  readonly #defaultTimeoutMs: number;
  readonly #listeners = new Set<HostListener>();
  #tmpSeq = 0;

  /** A Host for compute host `hostName` of `sim` (default: the scenario's first host). */
  constructor(sim: Simulation, hostName?: string, opts: SimHostOptions = {}) {
    this.sim = sim;
    this.name = hostName ?? sim.hostNames()[0] ?? '';
    sim.host(this.name); // fail early on an unknown host
    this.clock = sim.clock;
    this.#binaries = Object.freeze([...(opts.allowedBinaries ?? DEFAULT_ALLOWED_BINARIES)]);
    this.#roots = Object.freeze([...(opts.allowedRoots ?? DEFAULT_ALLOWED_ROOTS)]);
    this.#defaultTimeoutMs = opts.defaultTimeoutMs ?? 30_000;
  }

  /** The simulated machine behind this Host (state, sysfs, multipath), for tests. */
  get model(): SimComputeHost {
    return this.sim.host(this.name);
  }

  onExec(listener: HostListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    checkExec(cmd, args, this.#binaries);
    const secrets = opts.secrets ?? [];
    const timeoutMs = opts.timeoutMs ?? this.#defaultTimeoutMs;
    const r = await this.sim.exec(this.name, cmd, args, {
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
      throw new HitchError('HITCH_EXEC_FAILED', { command, exitCode: r.code, stdout: record.stdout.trim(), stderr: record.stderr.trim() });
    }
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  async readFile(path: string): Promise<string> {
    const p = checkPath(path, this.#roots);
    return this.#fs(p, () => this.model.vfs.read(p));
  }

  async readFiles(paths: readonly string[]): Promise<Array<string | null>> {
    const ps = paths.map((path) => checkPath(path, this.#roots));
    const vfs = this.model.vfs;
    return ps.map((p) => {
      try {
        return vfs.read(p);
      } catch (e) {
        const err = this.#error(p, e);
        if (err.code === 'HITCH_PATH_NOT_FOUND') return null;
        throw err;
      }
    });
  }

  async writeFile(path: string, data: string): Promise<void> {
    const p = checkPath(path, this.#roots);
    try {
      await this.model.writeSysfs(p, data);
    } catch (e) {
      throw this.#error(p, e);
    }
  }

  async writeFileAtomic(path: string, data: string, opts: WriteFileAtomicOptions = {}): Promise<void> {
    const p = checkReplaceablePath(path, this.#roots);
    const vfs = this.model.vfs;
    const dir = posix.dirname(p);
    this.#fs(p, () => {
      vfs.mkdirp(dir);
      // Temporary file, then rename: the tree never holds a partial record.
      const tmp = `${dir}/.${posix.basename(p)}.${++this.#tmpSeq}.tmp`;
      vfs.writeText(tmp, data, opts.mode ?? 0o600);
      vfs.rename(tmp, p);
    });
  }

  async exists(path: string): Promise<boolean> {
    const p = checkPath(path, this.#roots);
    return this.model.vfs.exists(p);
  }

  async readlink(path: string): Promise<string> {
    const p = checkPath(path, this.#roots);
    return this.#fs(p, () => this.model.vfs.readlink(p));
  }

  async realpath(path: string): Promise<string> {
    const p = checkPath(path, this.#roots);
    return this.#fs(p, () => this.model.vfs.realpath(p));
  }

  async readdir(path: string): Promise<string[]> {
    const p = checkPath(path, this.#roots);
    return this.#fs(p, () => this.model.vfs.readdir(p));
  }

  async glob(pattern: string): Promise<string[]> {
    checkGlob(pattern, this.#roots);
    return this.model.vfs.glob(pattern);
  }

  async waitForPath(path: string, opts: WaitForPathOptions): Promise<boolean> {
    const p = checkPath(path, this.#roots);
    const vfs = this.model.vfs;
    const want = !opts.gone;
    if (opts.signal?.aborted) throw new HitchError('HITCH_ABORTED', { reason: `wait for ${path}` });
    if (vfs.exists(p) === want) return true;
    return new Promise<boolean>((resolve, reject) => {
      const finish = (v: boolean | Error): void => {
        unsubscribe();
        cancelTimer();
        opts.signal?.removeEventListener('abort', onAbort);
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      // The simulated udev and kernel change the tree; every change is a chance to be done.
      const unsubscribe = vfs.onChange(() => {
        if (vfs.exists(p) === want) finish(true);
      });
      const cancelTimer = this.clock.setTimer(opts.timeoutMs, () => finish(vfs.exists(p) === want));
      const onAbort = (): void => finish(new HitchError('HITCH_ABORTED', { reason: `wait for ${path}` }));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #fs<T>(path: string, op: () => T): T {
    try {
      return op();
    } catch (e) {
      throw this.#error(path, e);
    }
  }

  #error(path: string, e: unknown): HitchError {
    if (e instanceof HitchError) return e;
    if (e instanceof VfsError && e.errno === 'ENOENT') return new HitchError('HITCH_PATH_NOT_FOUND', { path });
    const detail = e instanceof VfsError ? `${path}: ${e.errno}` : `${path}: ${(e as Error).message}`;
    return new HitchError('HITCH_INTERNAL', { detail }, { cause: e });
  }
}

export interface CreateSimHostOptions extends SimulationOptions, SimHostOptions {
  /** Which compute host of the scenario (default: the first). */
  readonly host?: string;
}

/**
 * A fresh simulation of `scenario` (a built-in name, a file path, or a scenario object) and a
 * Host for one of its compute hosts. Reach the simulation through `host.sim`.
 */
export function createSimHost(scenario: Scenario | string = 'healthy-multipath', opts: CreateSimHostOptions = {}): SimHost {
  return new SimHost(Simulation.create(scenario, opts), opts.host, opts);
}

/**
 * For the shared Host conformance suite: a healthy single-path host whose
 * `/etc/iscsi/initiatorname.iscsi` holds `InitiatorName=iqn.1993-08.org.debian:01:compute1`.
 */
export function createSimHostForConformance(): SimHost {
  return createSimHost('healthy-single');
}
