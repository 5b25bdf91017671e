/**
 * The client side of the simulator daemon (`server.ts`): a `Host`, a `HypervisorDriver` and a
 * `Clock` per compute host, and the array port the `sim` backend drives — each a thin proxy over
 * one unix-socket connection, so the compute service runs unchanged against a world that
 * outlives it.
 *
 * - `RemoteClock.now()` is synchronous, as `Clock` requires: it returns the latest virtual time
 *   seen in any answer from the daemon (every answer carries it). It is therefore exact right
 *   after a call and may lag while the client computes between calls (time may pass meanwhile:
 *   see the daemon's quiet rule). `sleep` is a call to the daemon.
 * - `RemoteHost` is the exec policy every Host has (`host/policy-host.ts`: allowlist, roots,
 *   timeouts, exit codes, masking) over `RemoteTransport`, which carries each call to the
 *   daemon's raw transport for that host: the policy applies here, before anything is sent.
 * - An `AbortSignal` cancels the call in the daemon (a wait or sleep ends with `HITCH_ABORTED`,
 *   a command is aborted as SimHost aborts it).
 * - A lost connection fails every pending and later call with `HITCH_UPSTREAM_UNAVAILABLE`.
 */
import { connect, type Socket } from 'node:net';
import { HitchError } from '../../errors.ts';
import { PolicyHost, type HostPolicyOptions } from '../../host/policy-host.ts';
import type { Clock, HostCapabilities, HostTransport, TcpProbeOptions, TcpProbeResult, TransportExecOptions, TransportExecResult, WaitForPathOptions } from '../../ports/host.ts';
import type { AttachOptions, DefineOptions, DetachOptions, DetachResult, DiskInfo, DomainSpec, DomainState, HypervisorDriver, OpOptions, SecretRef } from '../../ports/hypervisor.ts';
import { inSpan } from '../../virt/in-span.ts';
import type { SimDomainView, SimFault } from '../sim-hypervisor-types.ts';
import type { SimArrays } from '../array-port.ts';
import type { FaultSpec } from '../faults.ts';
import type { HostSnapshot } from '../inspect.ts';
import { decode, isPlain, encode, encodePlain, errorFromWire, lineReader, turnWriter, type Answer, type ArrayExports, type HelloAnswer, type Method, type Methods, type WorldSnapshot } from './protocol.ts';

interface Pending {
  readonly resolve: (a: Answer) => void;
  readonly reject: (e: Error) => void;
}

const unavailable = (detail: string): HitchError => new HitchError('HITCH_UPSTREAM_UNAVAILABLE', { service: 'simulator', detail });

export class SimClient {
  readonly socketPath: string;
  readonly clock: RemoteClock;
  #info: HelloAnswer | null = null;
  readonly #socket: Socket;
  readonly #write: (line: string) => void;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed: HitchError | null = null;

  private constructor(socketPath: string, socket: Socket) {
    this.socketPath = socketPath;
    this.#socket = socket;
    this.#write = turnWriter(socket);
    this.clock = new RemoteClock(this);
    socket.on(
      'data',
      lineReader((line) => {
        let a: Answer;
        try {
          a = decode(line) as Answer;
        } catch {
          return;
        }
        this.clock.observe(a.now);
        const p = this.#pending.get(a.id);
        if (!p) return;
        this.#pending.delete(a.id);
        p.resolve(a);
      }),
    );
    const fail = (why: string): void => {
      this.#closed ??= unavailable(why);
      for (const p of this.#pending.values()) p.reject(this.#closed);
      this.#pending.clear();
    };
    socket.on('error', (e) => fail(`${socketPath}: ${e.message}`));
    socket.on('close', () => fail(`${socketPath}: connection closed`));
  }

  /** Connect to the daemon at `socketPath` and learn its world (hosts, arrays). */
  static async connect(socketPath: string): Promise<SimClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(socketPath);
      s.once('connect', () => {
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e) => reject(unavailable(`cannot connect to ${socketPath}: ${e.message}`)));
    });
    const c = new SimClient(socketPath, socket);
    c.#info = await c.call('hello', {});
    return c;
  }

  /** The daemon's scenario, seed, compute hosts (initiator, ip) and arrays. */
  get info(): HelloAnswer {
    if (!this.#info) throw unavailable('not connected');
    return this.#info;
  }

  /** Send one request; the raw answer (result or error, and an exec's record). */
  request<M extends Method>(m: M, p: Methods[M]['p'], signal?: AbortSignal): Promise<Answer> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (signal?.aborted) return Promise.reject(new HitchError('HITCH_ABORTED', { reason: `${m} not sent` }));
    const id = this.#nextId++;
    return new Promise<Answer>((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.#closed) this.#write(encode({ cancel: id }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      this.#pending.set(id, {
        resolve: (a) => (done(), resolve(a)),
        reject: (e) => (done(), reject(e)),
      });
      this.#write(isPlain(m, p) ? encodePlain({ id, m, p }) : encode({ id, m, p }));
    });
  }

  /** Call a method: its result, or its catalog error thrown here. */
  async call<M extends Method>(m: M, p: Methods[M]['p'], signal?: AbortSignal): Promise<Methods[M]['r']> {
    const a = await this.request(m, p, signal);
    if (a.err) throw errorFromWire(a.err);
    return a.ok as Methods[M]['r'];
  }

  host(name: string, opts: HostPolicyOptions = {}): RemoteHost {
    this.#knownHost(name);
    return new RemoteHost(this, name, opts);
  }

  hypervisor(name: string): RemoteHypervisor {
    this.#knownHost(name);
    return new RemoteHypervisor(this, name);
  }

  /** The array port for the `sim` backend. */
  arrays(): SimArrays {
    const names = this.info.arrays.map((a) => a.name);
    return {
      arrayNames: () => names,
      createTarget: async (array, iqn) => void (await this.call('array.createTarget', { array, iqn })),
      addLun: async (array, iqn, opts) => this.call('array.addLun', { array, iqn, opts }),
      resizeLun: async (array, iqn, lun, sizeBytes) => void (await this.call('array.resizeLun', { array, iqn, lun, sizeBytes })),
      deleteTarget: async (array, iqn) => void (await this.call('array.deleteTarget', { array, iqn })),
      target: async (array, iqn) => this.call('array.target', { array, iqn }),
      exportTo: async (array, iqn, initiator, opts) => this.call('sim.exportTo', { array, iqn, initiator, opts }),
      denyInitiator: async (array, iqn, initiator) => void (await this.call('array.denyInitiator', { array, iqn, initiator })),
    };
  }

  // --- inspection and faults, as on a Simulation ---------------------------------------------

  inspectHost(host: string): Promise<HostSnapshot> {
    return this.call('inspect.host', { host });
  }

  leftovers(host: string): Promise<string[]> {
    return this.call('inspect.leftovers', { host });
  }

  inspectArray(array: string): Promise<ArrayExports> {
    return this.call('inspect.array', { array });
  }

  traceText(): Promise<string> {
    return this.call('inspect.trace', {});
  }

  injectFault(fault: FaultSpec): Promise<void> {
    return this.call('sim.injectFault', { fault }).then(() => undefined);
  }

  /** Every host's kernel state and leftovers, every array's exports, every domain: one instant. */
  world(): Promise<WorldSnapshot> {
    return this.call('inspect.world', {});
  }

  close(): Promise<void> {
    this.#closed ??= unavailable('client closed');
    return new Promise((resolve) => {
      if (this.#socket.destroyed) return resolve();
      this.#socket.once('close', () => resolve());
      this.#socket.end();
    });
  }

  #knownHost(name: string): void {
    if (!this.info.hosts.some((h) => h.name === name)) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Simulated host', id: name });
  }
}

/** The daemon's virtual clock, as last seen (see the file comment). */
export class RemoteClock implements Clock {
  readonly #client: SimClient;
  #now = 0;

  constructor(client: SimClient) {
    this.#client = client;
  }

  /** The latest virtual time seen in any answer; never goes back. */
  now(): number {
    return this.#now;
  }

  observe(now: number): void {
    if (typeof now === 'number' && now > this.#now) this.#now = now;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await this.#client.call('clock.sleep', { ms }, signal);
  }

  /** Ask the daemon for the time now (refreshes `now()`). */
  async fetch(): Promise<number> {
    return this.#client.call('clock.now', {});
  }
}

/** One compute host of the daemon's world, with no policy: `RemoteHost` is the Host to use. */
export class RemoteTransport implements HostTransport {
  readonly name: string;
  readonly capabilities: HostCapabilities = { atomicWrite: true, tcpProbe: true };
  readonly #client: SimClient;

  constructor(client: SimClient, name: string) {
    this.#client = client;
    this.name = name;
  }

  get clock(): RemoteClock {
    return this.#client.clock;
  }

  run(cmd: string, args: readonly string[], opts: TransportExecOptions): Promise<TransportExecResult> {
    const { signal, ...wire } = opts;
    return this.#client.call('host.exec', { host: this.name, cmd, args: [...args], opts: wire }, signal);
  }

  readFile(path: string): Promise<string> {
    return this.#client.call('host.readFile', { host: this.name, path });
  }

  /** One round trip for all of them. */
  readFiles(paths: readonly string[]): Promise<Array<string | null>> {
    return this.#client.call('host.readFiles', { host: this.name, paths });
  }

  async writeFile(path: string, data: string): Promise<void> {
    await this.#client.call('host.writeFile', { host: this.name, path, data });
  }

  async writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
    await this.#client.call('host.writeFileAtomic', { host: this.name, path, data, mode });
  }

  exists(path: string): Promise<boolean> {
    return this.#client.call('host.exists', { host: this.name, path });
  }

  readlink(path: string): Promise<string> {
    return this.#client.call('host.readlink', { host: this.name, path });
  }

  realpath(path: string): Promise<string> {
    return this.#client.call('host.realpath', { host: this.name, path });
  }

  readdir(path: string): Promise<string[]> {
    return this.#client.call('host.readdir', { host: this.name, path });
  }

  glob(pattern: string): Promise<string[]> {
    return this.#client.call('host.glob', { host: this.name, pattern });
  }

  /** Run by the daemon, from its compute host's place in the simulated network (not from this process). */
  async probeTcp(address: string, port: number, opts: TcpProbeOptions): Promise<TcpProbeResult> {
    if (opts.signal?.aborted) throw new HitchError('HITCH_ABORTED', { reason: `TCP probe of ${address}:${port}` });
    return this.#client.call('host.probeTcp', { host: this.name, address, port, timeoutMs: opts.timeoutMs }, opts.signal);
  }

  /** A long-poll: the daemon answers when the path appears (or goes), or at the virtual timeout. */
  async waitForPath(path: string, opts: WaitForPathOptions): Promise<boolean> {
    if (opts.signal?.aborted) throw new HitchError('HITCH_ABORTED', { reason: `wait for ${path}` });
    return this.#client.call('host.waitForPath', { host: this.name, path, timeoutMs: opts.timeoutMs, ...(opts.gone ? { gone: true } : {}) }, opts.signal);
  }
}

/** A compute host of the daemon's world as a Host: the exec policy over `RemoteTransport`. */
export class RemoteHost extends PolicyHost {
  readonly #t: RemoteTransport;

  constructor(client: SimClient, name: string, opts: HostPolicyOptions = {}) {
    const t = new RemoteTransport(client, name);
    super(t, opts);
    this.#t = t;
  }

  declare readonly clock: RemoteClock;
}

/**
 * The simulated hypervisor of one compute host, in the daemon. Spans are recorded here, in the
 * caller's trace, with the names and attributes `SimHypervisor` gives them.
 */
export class RemoteHypervisor implements HypervisorDriver {
  readonly kind = 'sim' as const;
  readonly host: string;
  readonly #client: SimClient;

  constructor(client: SimClient, host: string) {
    this.#client = client;
    this.host = host;
  }

  #call(p: Methods['hv.call']['p']): Promise<Methods['hv.call']['r']> {
    return this.#client.call('hv.call', p);
  }

  defineAndStart(spec: DomainSpec, opts: DefineOptions = {}): Promise<void> {
    return inSpan(opts.span, 'virt.define_and_start', { domain: spec.name, hypervisor: 'sim', ...(opts.start === false ? { start: false } : {}) }, async () => {
      await this.#call({ host: this.host, method: 'defineAndStart', args: opts.start === false ? [spec, { start: false }] : [spec] });
    });
  }

  destroy(name: string, opts: OpOptions = {}): Promise<void> {
    return inSpan(opts.span, 'virt.destroy', { domain: name, hypervisor: 'sim' }, async () => {
      await this.#call({ host: this.host, method: 'destroy', args: [name] });
    });
  }

  undefine(name: string, opts: OpOptions = {}): Promise<void> {
    return inSpan(opts.span, 'virt.undefine', { domain: name, hypervisor: 'sim' }, async () => {
      await this.#call({ host: this.host, method: 'undefine', args: [name] });
    });
  }

  domainState(name: string, opts: OpOptions = {}): Promise<DomainState | null> {
    return inSpan(opts.span, 'virt.domain_state', { domain: name, hypervisor: 'sim' }, async () => {
      return (await this.#call({ host: this.host, method: 'domainState', args: [name] })) as DomainState | null;
    });
  }

  attachDisk(domain: string, diskXml: string, opts: AttachOptions): Promise<void> {
    return inSpan(opts.span, 'virt.attach_disk', { domain, hypervisor: 'sim' }, async (span) => {
      // The daemon checks the XML (the same check, the same errors) and names the disk back:
      // no second parse on this side.
      const label = (await this.#call({ host: this.host, method: 'attachDisk', args: [domain, diskXml, { live: opts.live, persistent: opts.persistent }] })) as {
        target: string;
        source: string;
      } | null;
      if (label) span?.set({ target: label.target, source: label.source });
    });
  }

  detachDisk(domain: string, targetDev: string, opts: DetachOptions): Promise<DetachResult> {
    return inSpan(opts.span, 'virt.detach_disk', { domain, target: targetDev, hypervisor: 'sim' }, async (span) => {
      const args: [string, string, { timeoutMs: number; persistent?: boolean }] = [
        domain,
        targetDev,
        { timeoutMs: opts.timeoutMs, ...(opts.persistent !== undefined ? { persistent: opts.persistent } : {}) },
      ];
      const r = (await this.#call({ host: this.host, method: 'detachDisk', args })) as DetachResult;
      if (r.outcome === 'absent') span?.set({ outcome: 'absent' });
      return r;
    });
  }

  resizeDisk(domain: string, targetDev: string, sizeBytes: number, opts: OpOptions = {}): Promise<void> {
    return inSpan(opts.span, 'virt.resize_disk', { domain, target: targetDev, size_bytes: sizeBytes, hypervisor: 'sim' }, async () => {
      await this.#call({ host: this.host, method: 'resizeDisk', args: [domain, targetDev, sizeBytes] });
    });
  }

  listDisks(domain: string, opts: OpOptions = {}): Promise<DiskInfo[]> {
    return inSpan(opts.span, 'virt.list_disks', { domain, hypervisor: 'sim' }, async () => {
      return (await this.#call({ host: this.host, method: 'listDisks', args: [domain] })) as DiskInfo[];
    });
  }

  defineSecret(usage: string, value: string, opts: OpOptions = {}): Promise<SecretRef> {
    return inSpan(opts.span, 'virt.define_secret', { usage, hypervisor: 'sim' }, async () => {
      return (await this.#call({ host: this.host, method: 'defineSecret', args: [usage, value] })) as SecretRef;
    });
  }

  undefineSecret(usage: string, opts: OpOptions = {}): Promise<void> {
    return inSpan(opts.span, 'virt.undefine_secret', { usage, hypervisor: 'sim' }, async () => {
      await this.#call({ host: this.host, method: 'undefineSecret', args: [usage] });
    });
  }

  // --- inspection and faults (async: they cross the socket) ----------------------------------

  /** The domains and their live and persistent disks (`SimHypervisor.domains()`). */
  inspectDomains(): Promise<SimDomainView[]> {
    return this.#client.call('hv.domains', { host: this.host });
  }

  injectFault(fault: SimFault): Promise<void> {
    return this.#client.call('hv.injectFault', { host: this.host, fault }).then(() => undefined);
  }

  setUnplugBehaviour(domain: string, ackMs: number | 'never'): Promise<void> {
    return this.#client.call('hv.setUnplugBehaviour', { host: this.host, domain, ackMs }).then(() => undefined);
  }
}
