/**
 * `SimHost`: the Host port answered by one compute host of a simulation — the exec policy
 * (`host/policy-host.ts`, the same one `LinuxHost` has) over `SimTransport`.
 *
 * The transport answers from the simulated host's kernel, tools and file tree, on the
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
import { PolicyHost, type HostPolicyOptions } from '../host/policy-host.ts';
import type { HostCapabilities, HostTransport, TcpProbeOptions, TcpProbeResult, TransportExecOptions, TransportExecResult, WaitForPathOptions } from '../ports/host.ts';

/** Allowlist, roots and default timeout (virtual ms; LinuxHost's default too). */
export interface SimHostOptions extends HostPolicyOptions {
  /** False: a host without the TCP probe (default true), to compare brick with and without it. */
  readonly tcpProbe?: boolean;
}

/** One simulated compute host's calls, with no policy: `SimHost` is the Host to use (the simulator daemon serves this). */
export class SimTransport implements HostTransport {
  readonly name: string;
  readonly sim: Simulation;
  readonly clock: VirtualClock;
  readonly capabilities: HostCapabilities;
  #tmpSeq = 0;

  /** Compute host `hostName` of `sim` (default: the scenario's first host). */
  /** `tcpProbe: false` plays a host that cannot probe (brick then connects without probing). */
  constructor(sim: Simulation, hostName?: string, opts: { readonly tcpProbe?: boolean } = {}) {
    this.sim = sim;
    this.capabilities = { atomicWrite: true, tcpProbe: opts.tcpProbe ?? true };
    this.name = hostName ?? sim.hostNames()[0] ?? '';
    sim.host(this.name); // fail early on an unknown host
    this.clock = sim.clock;
  }

  /** The simulated machine behind this Host (state, sysfs, multipath), for tests. */
  get model(): SimComputeHost {
    return this.sim.host(this.name);
  }

  run(cmd: string, args: readonly string[], opts: TransportExecOptions): Promise<TransportExecResult> {
    return this.sim.exec(this.name, cmd, args, opts);
  }

  async readFile(p: string): Promise<string> {
    return this.#fs(p, () => this.model.vfs.read(p));
  }

  async readFiles(paths: readonly string[]): Promise<Array<string | null>> {
    const vfs = this.model.vfs;
    return paths.map((p) => {
      try {
        return vfs.read(p);
      } catch (e) {
        const err = this.#error(p, e);
        if (err.code === 'HITCH_PATH_NOT_FOUND') return null;
        throw err;
      }
    });
  }

  async writeFile(p: string, data: string): Promise<void> {
    try {
      await this.model.writeSysfs(p, data);
    } catch (e) {
      throw this.#error(p, e);
    }
  }

  async writeFileAtomic(p: string, data: string, mode: number): Promise<void> {
    const vfs = this.model.vfs;
    const dir = posix.dirname(p);
    this.#fs(p, () => {
      vfs.mkdirp(dir);
      // Temporary file, then rename: the tree never holds a partial record.
      const tmp = `${dir}/.${posix.basename(p)}.${++this.#tmpSeq}.tmp`;
      vfs.writeText(tmp, data, mode);
      vfs.rename(tmp, p);
    });
  }

  async exists(p: string): Promise<boolean> {
    return this.model.vfs.exists(p);
  }

  async readlink(p: string): Promise<string> {
    return this.#fs(p, () => this.model.vfs.readlink(p));
  }

  async realpath(p: string): Promise<string> {
    return this.#fs(p, () => this.model.vfs.realpath(p));
  }

  async readdir(p: string): Promise<string[]> {
    return this.#fs(p, () => this.model.vfs.readdir(p));
  }

  async glob(pattern: string): Promise<string[]> {
    return this.model.vfs.glob(pattern);
  }

  async waitForPath(p: string, opts: WaitForPathOptions): Promise<boolean> {
    const vfs = this.model.vfs;
    const want = !opts.gone;
    if (opts.signal?.aborted) throw new HitchError('HITCH_ABORTED', { reason: `wait for ${p}` });
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
      const onAbort = (): void => finish(new HitchError('HITCH_ABORTED', { reason: `wait for ${p}` }));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  probeTcp(address: string, port: number, opts: TcpProbeOptions): Promise<TcpProbeResult> {
    return this.sim.probeTcp(this.name, address, port, opts);
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

/** A Host for compute host `hostName` of `sim`: the exec policy over `SimTransport`. */
export class SimHost extends PolicyHost {
  readonly #t: SimTransport;

  /** A Host for compute host `hostName` of `sim` (default: the scenario's first host). */
  constructor(sim: Simulation, hostName?: string, opts: SimHostOptions = {}) {
    const t = new SimTransport(sim, hostName, opts.tcpProbe !== undefined ? { tcpProbe: opts.tcpProbe } : {});
    super(t, opts);
    this.#t = t;
  }

  get sim(): Simulation {
    return this.#t.sim;
  }

  declare readonly clock: VirtualClock;

  /** The simulated machine behind this Host (state, sysfs, multipath), for tests. */
  get model(): SimComputeHost {
    return this.#t.model;
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
