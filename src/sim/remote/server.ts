/**
 * The simulator daemon: one `Simulation` (arrays, network, every compute host's kernel) and one
 * `SimHypervisor` per compute host, served over a unix socket (`protocol.ts`) so that the world
 * outlives the processes that use it — a SIGKILLed `hitch serve` leaves its iSCSI sessions, SCSI
 * disks, dm maps, array exports and guest disks behind, exactly as nova-compute leaves the host
 * kernel, the array and libvirtd — and so that several processes (API servers, one agent per
 * host) share one array that every host logs in to.
 *
 * Virtual time: the simulation's own rule (time jumps to the next timer once every simulated
 * task is idle), plus one more: the clock stays still while any client has talked to the daemon
 * within the last `quietMs` of wall time (default 5 ms). A client's next call usually follows
 * the last answer within microseconds, so a flow sees the same virtual times as in-process; but
 * a client that computes (or waits on its database) for longer between calls lets time pass —
 * which is what real time does too. A crashed client's requests are dropped; commands it had
 * started run to their end (iscsiadm and udev do not die with nova-compute), its waits and
 * sleeps are abandoned.
 *
 * Trust: the socket is for the processes of one cloud on one machine (its directory should be
 * 0700); CHAP secrets cross it as they cross a local libvirt socket.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { HitchError } from '../../errors.ts';
import { SimTransport } from '../sim-host.ts';
import { checkTcpProbe } from '../../host/guard.ts';
import { blockDeviceBytes, SimHypervisor, vfsReader } from '../sim-hypervisor.ts';
import type { ClockHold } from '../clock.ts';
import { exportAndDescribe } from '../array-port.ts';
import { Simulation } from '../simulation.ts';
import { decode, isPlain, encode, encodePlain, errorToWire, lineReader, turnWriter, type Answer, type Cancel, type HelloAnswer, type Method, type Methods, type Request, type TargetView, type WorldSnapshot } from './protocol.ts';

export interface SimDaemonOptions {
  /** A built-in scenario name or a scenario file. */
  readonly scenario: string;
  readonly seed?: number;
  /** The unix socket to listen on. */
  readonly socketPath: string;
  /** Wall-time ms after the last client message during which virtual time stands still (default 5). */
  readonly quietMs?: number;
  /**
   * Pace virtual time at `speed` × wall time (as `hitch serve --sim-speed` does in-process), so an
   * attach can be watched; 0 (default) lets it jump whenever the world is idle.
   */
  readonly speed?: number;
}

type AnyRequest = { [M in Method]: Request<M> }[Method];

async function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Hold the clock and move it forward with the wall clock × `speed`, in small steps. */
function pace(sim: Simulation, speed: number, tickMs = 50): () => void {
  const release = sim.clock.hold();
  const wall0 = Date.now();
  const virt0 = sim.clock.now();
  let busy = false;
  const timer = setInterval(() => {
    const target = virt0 + (Date.now() - wall0) * speed;
    if (busy || target <= sim.clock.now()) return;
    busy = true;
    void sim.clock.advance(target - sim.clock.now()).finally(() => (busy = false));
  }, tickMs);
  return () => {
    clearInterval(timer);
    release();
  };
}

export class SimDaemon {
  readonly sim: Simulation;
  readonly socketPath: string;
  readonly #scenario: string;
  readonly #seed: number;
  readonly #hypervisors = new Map<string, SimHypervisor>();
  readonly #transports = new Map<string, SimTransport>();
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #quietMs: number;
  #hold: ClockHold | null = null;
  #holdSince = 0;
  #quietTimer: NodeJS.Timeout | null = null;
  #unpace: () => void = () => undefined;

  private constructor(opts: SimDaemonOptions) {
    this.#scenario = opts.scenario;
    this.sim = Simulation.create(opts.scenario, { ...(opts.seed !== undefined ? { seed: opts.seed } : {}), autoAdvance: true });
    this.#seed = opts.seed ?? this.sim.scenario.seed ?? 1;
    this.socketPath = opts.socketPath;
    const speed = opts.speed ?? 0;
    // Paced time moves by the wall clock alone: the quiet rule is for jumping time only.
    this.#quietMs = speed > 0 ? 0 : (opts.quietMs ?? 5);
    if (speed > 0) this.#unpace = pace(this.sim, speed);
    for (const name of this.sim.hostNames()) {
      const model = this.sim.host(name);
      this.#hypervisors.set(name, new SimHypervisor({ clock: this.sim.clock, blockSourceExists: (p) => model.vfs.exists(p), blockSourceBytes: (p) => blockDeviceBytes(vfsReader(model.vfs), p) }));
    }
    this.#server = createServer((s) => this.#connection(s));
  }

  /** Build the world of `scenario` and listen on `socketPath` (a stale socket file is replaced). */
  static async start(opts: SimDaemonOptions): Promise<SimDaemon> {
    if (existsSync(opts.socketPath)) {
      if (await socketAlive(opts.socketPath)) throw new HitchError('HITCH_CONFLICT', { reason: `a simulator already listens on ${opts.socketPath}` });
      unlinkSync(opts.socketPath);
    }
    const d = new SimDaemon(opts);
    await new Promise<void>((resolve, reject) => {
      d.#server.once('error', reject);
      d.#server.listen(opts.socketPath, () => resolve());
    });
    return d;
  }

  /** The simulated hypervisor of a compute host (tests in the daemon's own process). */
  hypervisor(host: string): SimHypervisor {
    const h = this.#hypervisors.get(host);
    if (!h) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Simulated host', id: host });
    return h;
  }

  async close(): Promise<void> {
    this.#unpace();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    if (this.#quietTimer) clearTimeout(this.#quietTimer);
    this.#hold?.();
    this.#hold = null;
  }

  /**
   * A client spoke or was answered: keep virtual time still for `quietMs` of wall time. A steady
   * stream of calls (many clients) extends the hold to at most 20 × `quietMs`, then lets it lapse,
   * so time cannot be frozen by traffic alone.
   */
  #activity(): void {
    if (this.#quietMs <= 0) return;
    const now = Date.now();
    if (this.#hold === null) {
      this.#hold = this.sim.clock.hold();
      this.#holdSince = now;
    } else if (now - this.#holdSince > 20 * this.#quietMs) {
      return;
    }
    if (this.#quietTimer) clearTimeout(this.#quietTimer);
    this.#quietTimer = setTimeout(() => {
      this.#quietTimer = null;
      const release = this.#hold;
      this.#hold = null;
      release?.();
    }, this.#quietMs);
  }

  #connection(socket: Socket): void {
    this.#sockets.add(socket);
    // Requests that a cancel (or, for waits, the client going away) aborts.
    const inflight = new Map<number, { ac: AbortController; abandonOnClose: boolean }>();
    let open = true;
    const write = turnWriter(socket);
    const send = (a: Answer, plain = false): void => {
      if (!open) return;
      this.#activity();
      write(plain ? encodePlain(a) : encode(a));
    };
    socket.on(
      'data',
      lineReader((line) => {
        this.#activity();
        let msg: AnyRequest | Cancel;
        try {
          msg = decode(line) as AnyRequest | Cancel;
        } catch {
          return; // not a message; nothing to answer to
        }
        if ('cancel' in msg) {
          inflight.get(msg.cancel)?.ac.abort();
          return;
        }
        const req = msg;
        const ac = new AbortController();
        inflight.set(req.id, { ac, abandonOnClose: req.m !== 'host.exec' });
        const plain = isPlain(req.m, req.p);
        void this.#handle(req, ac.signal).then(
          (ok) => send({ id: req.id, now: this.sim.clock.now(), ok: ok ?? null }, plain),
          (e: unknown) => send({ id: req.id, now: this.sim.clock.now(), err: errorToWire(e) }, plain),
        ).finally(() => inflight.delete(req.id));
      }),
    );
    const gone = (): void => {
      if (!open) return;
      open = false;
      this.#sockets.delete(socket);
      for (const { ac, abandonOnClose } of inflight.values()) if (abandonOnClose) ac.abort();
    };
    socket.on('close', gone);
    socket.on('error', gone);
  }

  /** The raw calls of one host: the exec policy is the client's (`RemoteHost`), applied before a call is sent. */
  #hostOf(name: string): SimTransport {
    let t = this.#transports.get(name);
    if (!t) {
      t = new SimTransport(this.sim, name);
      this.#transports.set(name, t);
    }
    return t;
  }

  hello(): HelloAnswer {
    return {
      scenario: this.#scenario,
      seed: this.#seed,
      hosts: this.sim.hostNames().map((name) => {
        const h = this.sim.host(name);
        return { name, initiator: h.initiator, ip: h.config.ip ?? '127.0.0.1' };
      }),
      arrays: this.sim.arrays().map((a) => ({ name: a.name, portals: [...a.portals] })),
    };
  }

  world(): WorldSnapshot {
    return {
      now: this.sim.clock.now(),
      hosts: this.sim.hostNames().map((name) => ({
        name,
        initiator: this.sim.host(name).initiator,
        snapshot: this.sim.inspectHost(name),
        leftovers: this.sim.host(name).leftovers(),
      })),
      arrays: this.sim.arrays().map((a) => ({ name: a.name, exports: a.exports() })),
      domains: [...this.#hypervisors].map(([host, hv]) => ({ host, domains: hv.domains() })),
    };
  }

  async #handle(req: AnyRequest, signal: AbortSignal): Promise<Methods[Method]['r']> {
    const sim = this.sim;
    switch (req.m) {
      case 'hello':
        return this.hello();
      case 'clock.now':
        return sim.clock.now();
      case 'clock.sleep':
        await sim.clock.sleep(req.p.ms, signal);
        return null;
      case 'host.exec': {
        const { host, cmd, args, opts } = req.p;
        return this.#hostOf(host).run(cmd, args, { ...opts, signal });
      }
      case 'host.readFile':
        return this.#hostOf(req.p.host).readFile(req.p.path);
      case 'host.readFiles':
        return this.#hostOf(req.p.host).readFiles(req.p.paths);
      case 'host.writeFile':
        await this.#hostOf(req.p.host).writeFile(req.p.path, req.p.data);
        return null;
      case 'host.writeFileAtomic':
        await this.#hostOf(req.p.host).writeFileAtomic(req.p.path, req.p.data, req.p.mode);
        return null;
      case 'host.exists':
        return this.#hostOf(req.p.host).exists(req.p.path);
      case 'host.readlink':
        return this.#hostOf(req.p.host).readlink(req.p.path);
      case 'host.realpath':
        return this.#hostOf(req.p.host).realpath(req.p.path);
      case 'host.readdir':
        return this.#hostOf(req.p.host).readdir(req.p.path);
      case 'host.glob':
        return this.#hostOf(req.p.host).glob(req.p.pattern);
      case 'host.waitForPath':
        return this.#hostOf(req.p.host).waitForPath(req.p.path, { timeoutMs: req.p.timeoutMs, ...(req.p.gone ? { gone: true } : {}), signal });
      case 'host.probeTcp': {
        const { host, address, port, timeoutMs } = req.p;
        // What a client sent may be malformed: the same checks as the client's exec policy.
        checkTcpProbe(address, port, timeoutMs);
        return this.#hostOf(host).probeTcp(address, port, { timeoutMs, signal });
      }
      case 'hv.call':
        return this.#hv(req.p);
      case 'hv.domains':
        return this.hypervisor(req.p.host).domains();
      case 'hv.injectFault':
        this.hypervisor(req.p.host).injectFault(req.p.fault);
        return null;
      case 'hv.setUnplugBehaviour':
        this.hypervisor(req.p.host).setUnplugBehaviour(req.p.domain, req.p.ackMs);
        return null;
      case 'array.list':
        return sim.arrays().map((a) => ({ name: a.name, portals: [...a.portals] }));
      case 'array.createTarget':
        sim.array(req.p.array).createTarget(req.p.iqn, req.p.portals, req.p.tpgt);
        return null;
      case 'array.deleteTarget':
        sim.array(req.p.array).deleteTarget(req.p.iqn);
        return null;
      case 'array.addLun': {
        const l = sim.array(req.p.array).addLun(req.p.iqn, req.p.opts);
        return { lun: l.lun, wwn: l.wwn, sizeBytes: l.sizeBytes, readOnly: l.readOnly };
      }
      case 'array.removeLun':
        sim.array(req.p.array).removeLun(req.p.iqn, req.p.lun);
        return null;
      case 'array.resizeLun':
        sim.array(req.p.array).resizeLun(req.p.iqn, req.p.lun, req.p.sizeBytes);
        return null;
      case 'array.allowInitiator':
        sim.array(req.p.array).allowInitiator(req.p.iqn, req.p.initiator, req.p.opts);
        return null;
      case 'array.denyInitiator':
        sim.array(req.p.array).denyInitiator(req.p.iqn, req.p.initiator, req.p.luns);
        return null;
      case 'array.exports':
      case 'inspect.array':
        return sim.inspectArray(req.p.array);
      case 'array.target': {
        const t = sim.array(req.p.array).target(req.p.iqn);
        if (!t) return null;
        const view: TargetView = {
          iqn: t.iqn,
          tpgt: t.tpgt,
          portals: [...t.portals],
          luns: [...t.luns.values()].map((l) => ({ lun: l.lun, wwn: l.wwn })),
          initiators: [...t.acls.keys()],
        };
        return view;
      }
      case 'sim.exportTo':
        return exportAndDescribe(sim, req.p.array, req.p.iqn, req.p.initiator, req.p.opts, signal);
      case 'sim.injectFault':
        sim.injectFault(req.p.fault);
        return null;
      case 'inspect.host':
        return sim.inspectHost(req.p.host);
      case 'inspect.leftovers':
        return sim.host(req.p.host).leftovers();
      case 'inspect.trace':
        return sim.traceText();
      case 'inspect.world':
        return this.world();
      default: {
        const m: unknown = (req as { m?: unknown }).m;
        throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `unknown simulator method ${JSON.stringify(m)}` });
      }
    }
  }

  async #hv(p: Methods['hv.call']['p']): Promise<Methods['hv.call']['r']> {
    const hv = this.hypervisor(p.host);
    switch (p.method) {
      case 'defineAndStart':
        await hv.defineAndStart(p.args[0], p.args[1] ?? {});
        return null;
      case 'destroy':
        await hv.destroy(p.args[0]);
        return null;
      case 'undefine':
        await hv.undefine(p.args[0]);
        return null;
      case 'domainState':
        return hv.domainState(p.args[0]);
      case 'listDisks':
        return hv.listDisks(p.args[0]);
      case 'undefineSecret':
        await hv.undefineSecret(p.args[0]);
        return null;
      case 'attachDisk':
        return hv.attachDiskNamed(...p.args);
      case 'detachDisk':
        return hv.detachDisk(...p.args);
      case 'defineSecret':
        return hv.defineSecret(...p.args);
      case 'resizeDisk':
        await hv.resizeDisk(...p.args);
        return null;
    }
  }
}
