/**
 * A simulation: one virtual clock, one seeded random source, a network of portals, storage
 * arrays, compute hosts with their Linux storage stacks, faults, and a simulation-wide event
 * trace. Everything that happens is driven by commands run through a `SimHost` (or the array
 * API a storage backend calls), so the same scenario and seed give the same trace, byte for
 * byte.
 */
import { HitchError, isHitchError, toHitchError } from '../errors.ts';
import { renderCommand } from '../host/mask.ts';
import type { TcpProbeOptions, TcpProbeResult } from '../ports/host.ts';
import { StorageArray, type AllowOptions, type SimLun } from './array.ts';
import { VirtualClock } from './clock.ts';
import { runCommand } from './commands/index.ts';
import type { CommandContext, CommandOutput } from './commands/command.ts';
import { DEBIAN_ISCSI_NODES_DIR, SimComputeHost } from './compute-host.ts';
import { FaultSet, type FaultSpec } from './faults.ts';
import { commandCostMs, dataPlaneFloor, latencyModel, type DataPlaneFloor, type LatencyModel } from './latency.ts';
import { Network, portalKey } from './network.ts';
import { SeededRandom } from './random.ts';
import { loadScenario, validateScenario, type Scenario } from './scenario.ts';
import { inspectHost, type HostSnapshot } from './inspect.ts';
import { simSleep, type SimWorld, type SubsystemAtPortal, type TargetAtPortal } from './world.ts';

export interface SimulationOptions {
  /** Overrides the scenario's seed. */
  readonly seed?: number;
  /** Let the clock advance by itself when idle (default true). */
  readonly autoAdvance?: boolean;
  /** Merged over the scenario's latency model. */
  readonly latency?: Partial<LatencyModel>;
  /** Added to the scenario's faults. */
  readonly faults?: readonly FaultSpec[];
}

export interface SimExecOptions {
  readonly input?: string;
  readonly signal?: AbortSignal;
  /** Abort the command after this much virtual time; `Infinity` = never. */
  readonly timeoutMs: number;
  readonly secrets?: readonly string[];
}

export interface SimExecResult extends CommandOutput {
  readonly timedOut: boolean;
  readonly startMs: number;
  readonly endMs: number;
}

/** `120.004` — virtual seconds with milliseconds, right-aligned for readable traces. */
export function formatVirtualTime(ms: number): string {
  return (ms / 1000).toFixed(3).padStart(10);
}

export class Simulation implements SimWorld {
  readonly scenario: Scenario;
  readonly clock: VirtualClock;
  readonly rng: SeededRandom;
  readonly latency: LatencyModel;
  readonly network = new Network();
  readonly faults = new FaultSet();
  readonly #arrays = new Map<string, StorageArray>();
  readonly #hosts = new Map<string, SimComputeHost>();
  readonly #trace: string[] = [];

  /** Build a simulation from a scenario object, a built-in name, or a scenario file path. */
  static create(scenario: Scenario | string, opts: SimulationOptions = {}): Simulation {
    return new Simulation(typeof scenario === 'string' ? loadScenario(scenario) : validateScenario(scenario), opts);
  }

  constructor(scenario: Scenario, opts: SimulationOptions = {}) {
    this.scenario = scenario;
    this.clock = new VirtualClock({ autoAdvance: opts.autoAdvance ?? true });
    this.rng = new SeededRandom(opts.seed ?? scenario.seed ?? 1);
    this.latency = latencyModel({ ...scenario.latency, ...opts.latency });
    for (const [p, st] of Object.entries(scenario.portals ?? {})) this.network.set(p, { kind: st.state, latencyMs: st.latencyMs ?? 0, ...(st.loginTimeoutMs !== undefined ? { loginTimeoutMs: st.loginTimeoutMs } : {}) });
    for (const a of scenario.arrays) {
      const arr = new StorageArray(a.name, this.rng, { onChange: (what) => this.event(a.name, what), portals: a.portals, ...(a.companyId ? { companyId: a.companyId } : {}), ...(a.vendor ? { vendor: a.vendor } : {}), ...(a.model ? { model: a.model } : {}), ...(a.kind ? { kind: a.kind } : {}) });
      this.#arrays.set(a.name, arr);
      for (const t of a.targets ?? []) {
        arr.createTarget(t.iqn, t.portals, t.tpgt ?? 1);
        for (const l of t.luns ?? []) arr.addLun(t.iqn, { lun: l.lun, ...(l.wwn ? { wwn: l.wwn } : {}), ...(l.serial ? { serial: l.serial } : {}), ...(l.sizeBytes !== undefined ? { sizeBytes: l.sizeBytes } : {}), readOnly: l.readOnly ?? false });
        for (const acl of t.acl ?? []) arr.allowInitiator(t.iqn, acl.initiator, { ...acl });
      }
      for (const n of a.subsystems ?? []) {
        arr.nvme.create(n.nqn, { ...(n.portals ? { portals: n.portals } : {}), ...(n.serial ? { serial: n.serial } : {}), allowAnyHost: n.allowAnyHost ?? false });
        for (const x of n.namespaces ?? []) arr.nvme.addNamespace(n.nqn, { ...x });
        for (const h of n.hosts ?? []) arr.nvme.allowHost(n.nqn, h);
      }
    }
    for (const h of scenario.hosts) {
      this.#hosts.set(
        h.name,
        new SimComputeHost(this, {
          name: h.name,
          initiator: h.initiator,
          ip: h.ip ?? '127.0.0.1',
          multipathd: h.multipathd ?? true,
          findMultipaths: h.findMultipaths ?? 'no',
          firstScsiHost: h.firstScsiHost ?? 2,
          localDisks: h.localDisks ?? [{ name: 'vda', sizeBytes: 42949672960 }],
          mounts: h.mounts ?? { '/': '/dev/vda' },
          fcHosts: h.fcHosts ?? [],
          ...(h.nvmeHostNqn !== undefined ? { nvmeHostNqn: h.nvmeHostNqn } : {}),
          ...(h.nvmeHostId !== undefined ? { nvmeHostId: h.nvmeHostId } : {}),
          ...(h.nvmeNativeMultipath !== undefined ? { nvmeNativeMultipath: h.nvmeNativeMultipath } : {}),
          iscsiNodesDir: h.iscsiNodesDir ?? DEBIAN_ISCSI_NODES_DIR,
        }),
      );
    }
    for (const f of [...(scenario.faults ?? []), ...(opts.faults ?? [])]) this.injectFault(f);
    for (const h of scenario.hosts) {
      for (const s of h.sessions ?? []) {
        if (!this.findTarget(s.target, s.portal)) throw new HitchError('HITCH_SIM_INVALID_SCENARIO', { reason: `host ${h.name}: no array serves ${s.target} at ${s.portal}` });
        this.host(h.name).restoreSession(s.target, portalKey(s.portal));
      }
      this.host(h.name).markBaseline();
    }
  }

  // --- the world, as hosts see it -------------------------------------------------------------

  findTarget(iqn: string, portal: string): TargetAtPortal | undefined {
    const key = portalKey(portal);
    for (const array of this.arrays()) {
      const target = array.target(iqn);
      if (target && target.portals.includes(key)) return { array, target };
    }
    return undefined;
  }

  findSubsystem(nqn: string, portal: string): SubsystemAtPortal | undefined {
    const key = portalKey(portal);
    for (const array of this.arrays()) {
      const subsystem = array.nvme.get(nqn);
      if (subsystem && subsystem.portals.includes(key)) return { array, subsystem };
    }
    return undefined;
  }

  targetsAt(portal: string): TargetAtPortal[] {
    const key = portalKey(portal);
    return this.arrays().flatMap((array) => array.targets().filter((t) => t.portals.includes(key)).map((target) => ({ array, target })));
  }

  portalServed(portal: string): boolean {
    const key = portalKey(portal);
    return this.arrays().some((a) => a.portals.includes(key) || a.targets().some((t) => t.portals.includes(key)) || a.nvme.list().some((n) => n.portals.includes(key)));
  }

  visibleLuns(found: TargetAtPortal, initiator: string): SimLun[] {
    return found.array.visibleLuns(found.target.iqn, initiator);
  }

  event(host: string, text: string): void {
    this.#trace.push(`${formatVirtualTime(this.clock.now())} ${host} ${text}`);
  }

  // --- hosts and arrays ---------------------------------------------------------------------

  host(name: string): SimComputeHost {
    const h = this.#hosts.get(name);
    if (!h) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Simulated host', id: name });
    return h;
  }

  hostNames(): string[] {
    return [...this.#hosts.keys()];
  }

  array(name: string): StorageArray {
    const a = this.#arrays.get(name);
    if (!a) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Simulated array', id: name });
    return a;
  }

  arrays(): StorageArray[] {
    return [...this.#arrays.values()];
  }

  /**
   * The storage side of `initialize_connection`: export a target (or some LUNs) to an
   * initiator, costing the array's export time on the virtual clock.
   */
  async exportTo(arrayName: string, iqn: string, initiator: string, opts: AllowOptions = {}, signal?: AbortSignal): Promise<void> {
    await this.clock.sleep(this.latency.arrayExportMs, signal);
    this.array(arrayName).allowInitiator(iqn, initiator, opts);
  }

  // --- faults -------------------------------------------------------------------------------

  /**
   * Inject a fault now or on its schedule. Portal faults change the network at `at` (and
   * restore the previous state at `until`); the others are consulted when they matter.
   */
  injectFault(spec: FaultSpec): void {
    this.faults.add(spec);
    if (!spec.fault.startsWith('portal-') || spec.portal === undefined) return;
    const portal = spec.portal;
    const kind = spec.fault === 'portal-dead' ? 'dead' : spec.fault === 'portal-refusing' ? 'refusing' : spec.fault === 'portal-slow' ? 'slow' : 'healthy';
    const apply = (): void => {
      const before = this.network.get(portal);
      this.network.set(portal, { kind, latencyMs: spec.latencyMs ?? 0, ...(spec.loginTimeoutMs !== undefined ? { loginTimeoutMs: spec.loginTimeoutMs } : {}) });
      this.event('network', `portal ${portalKey(portal)} ${kind}`);
      this.#portalChanged(portal);
      if (spec.until !== undefined) {
        this.clock.setTimer(spec.until - this.clock.now(), () => {
          this.network.set(portal, before);
          this.event('network', `portal ${portalKey(portal)} ${before.kind}`);
          this.#portalChanged(portal);
        });
      }
    };
    const at = spec.at ?? 0;
    if (at <= this.clock.now()) apply();
    else this.clock.setTimer(at - this.clock.now(), apply);
  }

  /** A portal's state changed: live NVMe controllers to it notice (their keep-alive). */
  #portalChanged(portal: string): void {
    for (const h of this.#hosts.values()) h.nvme?.portalChanged(portal);
  }

  // --- commands -----------------------------------------------------------------------------

  /** Run a command on a simulated host. Input checks and okCodes belong to `SimHost`. */
  async exec(hostName: string, cmd: string, args: readonly string[], opts: SimExecOptions): Promise<SimExecResult> {
    const host = this.host(hostName);
    const startMs = this.clock.now();
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const cancelTimeout = Number.isFinite(opts.timeoutMs)
      ? this.clock.setTimer(opts.timeoutMs, () => {
          timedOut = true;
          ac.abort();
        })
      : () => undefined;
    const ctx: CommandContext = { host, world: this, cmd, args, input: opts.input ?? '', signal: ac.signal, sleep: (ms) => simSleep(this, ms, ac.signal) };
    const command = renderCommand(cmd, args, opts.secrets ?? []);
    let result: CommandOutput;
    try {
      if (opts.signal?.aborted) throw new HitchError('HITCH_ABORTED', { reason: `${cmd} not started` });
      await ctx.sleep(commandCostMs(this.latency, cmd));
      const hang = this.faults.hit('command-hangs', { now: this.clock.now(), host: hostName, command: cmd, argsText: args.join(' ') });
      if (hang) {
        this.event(hostName, `fault command-hangs ${command}`);
        await ctx.sleep(hang.hangMs ?? Number.POSITIVE_INFINITY);
      }
      result = await runCommand(ctx);
    } catch (e) {
      if (!isHitchError(e, 'HITCH_ABORTED') || !timedOut) {
        // An abort from the caller's signal, or a bug in the simulator: either way a HitchError.
        this.event(hostName, `exec ${isHitchError(e, 'HITCH_ABORTED') ? 'aborted' : 'error'} ${command}`);
        throw toHitchError(e);
      }
      result = { code: -1, stdout: '', stderr: '' };
    } finally {
      cancelTimeout();
      opts.signal?.removeEventListener('abort', onAbort);
    }
    const endMs = this.clock.now();
    this.event(hostName, `exec ${timedOut ? 'timeout' : `rc=${result.code}`} (${endMs - startMs} ms) ${command}`);
    return { ...result, timedOut, startMs, endMs };
  }

  /**
   * A TCP connect from host `hostName` to `address`:`port`, closed at once, answered by the
   * network: a served live (or slow) portal accepts after a handshake round trip, a refusing
   * one resets after the same, a dead or unserved one (nobody listening: packets vanish) never
   * answers and the probe ends `timeout` at `timeoutMs`. Decided at the start, like a connect
   * attempt; one trace line per probe.
   */
  async probeTcp(hostName: string, address: string, port: number, opts: TcpProbeOptions): Promise<TcpProbeResult> {
    this.host(hostName); // an unknown host fails here
    const key = portalKey(`${address.includes(':') ? `[${address}]` : address}:${port}`);
    const startMs = this.clock.now();
    const st = this.network.get(key);
    const rttMs = this.latency.tcpHandshakeMs + 2 * (st.latencyMs ?? 0);
    const answer: { outcome: 'open' | 'refused' | 'timeout'; ms: number } =
      st.kind === 'refusing' ? { outcome: 'refused', ms: rttMs } : st.kind === 'dead' || !this.portalServed(key) ? { outcome: 'timeout', ms: Number.POSITIVE_INFINITY } : { outcome: 'open', ms: rttMs };
    const timedOut = !(answer.ms < opts.timeoutMs);
    try {
      await this.clock.sleep(timedOut ? opts.timeoutMs : answer.ms, opts.signal);
    } catch (e) {
      this.event(hostName, `probe tcp ${key} aborted (${this.clock.now() - startMs} ms)`);
      throw toHitchError(e);
    }
    const outcome = timedOut ? 'timeout' : answer.outcome;
    const elapsedMs = this.clock.now() - startMs;
    this.event(hostName, `probe tcp ${key} ${outcome} (${elapsedMs} ms)`);
    return { outcome, elapsedMs };
  }

  // --- inspection and measurement -------------------------------------------------------------

  /** The simulation-wide event trace, one line per command and per model event. */
  traceText(): string {
    return this.#trace.join('\n') + (this.#trace.length ? '\n' : '');
  }

  traceLines(): readonly string[] {
    return this.#trace;
  }

  /** Node records, sessions, SCSI disks and dm maps of a host, as plain data. */
  inspectHost(name: string): HostSnapshot {
    return inspectHost(this.host(name));
  }

  /** Targets, LUNs and ACLs of an array, as plain data. */
  inspectArray(name: string): ReturnType<StorageArray['exports']> {
    return this.array(name).exports();
  }

  /**
   * The data-plane floor for attaching `target` (by IQN; default: every target exported to
   * `host`), multipath or single path, under the current network and latency model.
   */
  floor(opts: { host?: string; targets?: readonly string[]; multipath: boolean }): DataPlaneFloor {
    const hostName = opts.host ?? this.hostNames()[0] ?? '';
    const host = this.host(hostName);
    const targets = this.arrays().flatMap((a) => a.targets().filter((t) => (opts.targets ? opts.targets.includes(t.iqn) : t.acls.has(host.initiator))));
    const portals = [...new Set(targets.flatMap((t) => t.portals))].map((p) => {
      const st = this.network.get(p);
      return { kind: st.kind, latencyMs: st.latencyMs };
    });
    const mapPossible = opts.multipath && host.multipath.running() && !targets.some((t) => [...t.luns.values()].some((l) => this.faults.peek('map-never', { now: this.clock.now(), host: hostName, wwn: l.wwn })));
    return dataPlaneFloor({ latency: this.latency, portals, multipathMap: mapPossible });
  }
}
