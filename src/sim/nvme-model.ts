/**
 * NVMe over TCP on one simulated compute host: the kernel's fabrics controllers (`nvmeN`), the
 * subsystems they belong to (`nvme-subsysN`), the namespaces' block devices, their sysfs and
 * udev's links, and what the kernel does when a portal dies under a live controller
 * (`ctrl_loss_tmo`, `reconnect_delay`). `commands/nvme.ts` is nvme-cli in front of it.
 *
 * Modelled on Linux 6.1 and nvme-cli 2.3 as recorded in the storage host guest
 * (`testdata/nvme/guest-record.json`, the fidelity scene `nvme`), not on what any initiator
 * expects:
 *
 * - **Numbers.** A controller takes the lowest free instance; a subsystem takes the instance of
 *   the controller that made it and keeps it while it exists, so that number stays taken after
 *   its controller went (the kernel's `nvme_instance_ida`). With native multipath
 *   (`nvme_core.multipath=Y`) a namespace is one head `nvme<subsys>n<k>` over hidden per-path
 *   devices `nvme<subsys>c<ctrl>n<k>`; without, each controller has its own `nvme<ctrl>n<k>`.
 *   `k` is the subsystem's namespace instance (from 1, in the order the namespaces were found).
 * - **Layout.** `/sys/class/nvme/nvmeN -> ../../devices/virtual/nvme-fabrics/ctl/nvmeN` (state,
 *   address, transport, subsysnqn, hostnqn, …; the path devices below it);
 *   `/sys/class/nvme-subsystem/nvme-subsysN -> ../../devices/virtual/nvme-subsystem/nvme-subsysN`
 *   (subsysnqn, model, serial; a link per controller; the heads); `/sys/block/<dev>` with `uuid`,
 *   `nguid`, `nsid`, `wwid`, `ro`, `size`. `/dev/nvmeN` for each controller, `/dev/<dev>` for
 *   every namespace device udev may see (hidden path devices have none).
 * - **udev** (Debian 12's 60-persistent-storage.rules) links each visible namespace device, a
 *   modelled delay after it appears: `nvme-<wwid>` (`nvme-uuid.<uuid>`),
 *   `nvme-<model>_<serial>_<nsid>` and `nvme-<model>_<serial>`.
 * - **One controller created at a time.** The kernel holds `nvmf_dev_mutex` (drivers/nvme/host/
 *   fabrics.c) across `nvmf_create_ctrl`, the TCP connect of the admin queue and the Connect
 *   commands included, so `nvme connect`s on one host run one after another in the order they
 *   reached the lock: one to a dead portal holds every later one for its whole SYN timeout, a
 *   live one for its connect time. The lock is not interruptible (a killed nvme-cli still waits
 *   for it, and its connect ends when it would). Reconnects of existing controllers do not take it.
 * - **A connect** allocates the controller once it holds the lock (state `connecting`, no
 *   `src_addr` in its address) and connects: a healthy portal answers in `nvmeConnectRttMs`, a refusing one fails
 *   at once (ECONNREFUSED), a dead one after `nvmeSynTimeoutMs` (nvme-tcp lets a connect send
 *   one SYN retry: ETIMEDOUT after ≈ 3 s); a portal that answers but has no such subsystem, or
 *   does not admit the host, fails the Connect command (EIO). A failed controller is removed.
 * - **A portal lost under a live controller**: the keep-alive times out (`nvmeKeepAliveLossMs`
 *   after the loss: state `resetting`), the queues are torn down (`nvmeTeardownMs`: state
 *   `connecting`), then a reconnect every `reconnect_delay` s, each costing what a connect to
 *   that portal costs; after ⌈ctrl_loss_tmo / reconnect_delay⌉ failed attempts the controller is
 *   removed (and its subsystem with its last controller). A portal back in time: `live` again.
 */
import type { SimNamespace, SimSubsystem } from './nvme-subsystem.ts';
import { parsePortal, portalKey } from './network.ts';
import { LINK_PRIORITY } from './udev-model.ts';
import { rel, type Vfs } from './vfs.ts';
import type { UdevModel } from './udev-model.ts';
import type { SimWorld } from './world.ts';

export type NvmeCtrlState = 'new' | 'live' | 'resetting' | 'connecting' | 'deleting';

export interface NvmeHostConfig {
  readonly hostNqn: string;
  readonly hostId: string;
  /** `nvme_core.multipath` */
  readonly nativeMultipath: boolean;
  /** The host's own address: `src_addr` of a live controller. */
  readonly ip: string;
}

export interface NvmeCtrl {
  readonly instance: number;
  readonly name: string;
  readonly nqn: string;
  readonly portal: string;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly hostNqn: string;
  readonly ctrlLossTmoS: number;
  readonly reconnectDelayS: number;
  cntlid: number;
  state: NvmeCtrlState;
  subsys: NvmeHostSubsys | null;
  /** The array's subsystem it is connected to (set once connected). */
  target: SimSubsystem | null;
  /** Bumped on every state change: a timer set for an older state does nothing. */
  epoch: number;
}

export interface NvmeNsDev {
  /** `nvme0n1` (a head, or a path device without native multipath), `nvme0c1n1` (a hidden path). */
  readonly name: string;
  readonly ns: SimNamespace;
  readonly subsys: NvmeHostSubsys;
  /** The controller of a path device; null for a head. */
  readonly ctrl: NvmeCtrl | null;
  readonly hidden: boolean;
  readonly sysDir: string;
  linked: boolean;
}

export interface NvmeHostSubsys {
  readonly instance: number;
  readonly name: string;
  readonly target: SimSubsystem;
  readonly ctrls: NvmeCtrl[];
  /** nsid → the subsystem's namespace instance (`k` of `nvmeXnk`). */
  readonly nsInstance: Map<number, number>;
  /** nsid → head (native multipath only). */
  readonly heads: Map<number, NvmeNsDev>;
}

interface Attempt {
  readonly ms: number;
  readonly outcome: 'ok' | 'refused' | 'timedOut' | 'io';
  readonly target?: SimSubsystem;
}

export interface ConnectOutcome {
  readonly ok: boolean;
  /** nvme-cli's stderr when not ok. */
  readonly stderr: string;
  readonly ctrl?: NvmeCtrl;
}

const CTL_DIR = '/sys/devices/virtual/nvme-fabrics/ctl';
const SUBSYS_DIR = '/sys/devices/virtual/nvme-subsystem';
/** The kernel's defaults (drivers/nvme/host/fabrics.h). */
export const NVMF_DEF_CTRL_LOSS_TMO_S = 600;
export const NVMF_DEF_RECONNECT_DELAY_S = 10;

const ERR = {
  refused: 'Failed to write to /dev/nvme-fabrics: Connection refused\ncould not add new controller: connection refused\n',
  timedOut: 'Failed to write to /dev/nvme-fabrics: Connection timed out\ncould not add new controller: failed to write to nvme-fabrics device\n',
  io: 'Failed to write to /dev/nvme-fabrics: Input/output error\ncould not add new controller: failed to write to nvme-fabrics device\n',
};

/** 32 hex digits as the kernel prints an NGUID (`%pU`). */
function uuidFormat(hex32: string): string {
  const h = hex32.padEnd(32, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export class NvmeHostModel {
  readonly config: NvmeHostConfig;
  readonly #world: SimWorld;
  readonly #vfs: Vfs;
  readonly #udev: UdevModel;
  readonly #host: string;
  readonly ctrls = new Map<number, NvmeCtrl>();
  readonly subsystems = new Map<number, NvmeHostSubsys>();
  readonly devs = new Map<string, NvmeNsDev>();
  /** `nvmf_dev_mutex`: the end of the queue of controller creations (FIFO). */
  #createTail: Promise<void> = Promise.resolve();
  /** Creations holding or waiting for the lock. */
  #creating = 0;

  constructor(world: SimWorld, vfs: Vfs, udev: UdevModel, host: string, config: NvmeHostConfig) {
    this.#world = world;
    this.#vfs = vfs;
    this.#udev = udev;
    this.#host = host;
    this.config = config;
    vfs.writeText('/etc/nvme/hostnqn', `${config.hostNqn}\n`);
    vfs.writeText('/etc/nvme/hostid', `${config.hostId}\n`);
    vfs.attr('/sys/module/nvme_core/parameters/multipath', () => (config.nativeMultipath ? 'Y\n' : 'N\n'));
    vfs.writeText('/dev/nvme-fabrics', '');
    for (const d of ['/sys/class/nvme', '/sys/class/nvme-subsystem', CTL_DIR, SUBSYS_DIR]) vfs.mkdirp(d);
  }

  #event(text: string): void {
    this.#world.event(this.#host, text);
  }

  // --- numbers ------------------------------------------------------------------------------

  #freeInstance(): number {
    const used = new Set([...this.ctrls.keys(), ...this.subsystems.keys()]);
    let n = 0;
    while (used.has(n)) n++;
    return n;
  }

  ctrlList(): NvmeCtrl[] {
    return [...this.ctrls.values()].sort((a, b) => a.instance - b.instance);
  }

  subsysList(): NvmeHostSubsys[] {
    return [...this.subsystems.values()].sort((a, b) => a.instance - b.instance);
  }

  /**
   * `traddr=…,trsvcid=…[,src_addr=…]` as the controller's `address` reads now: `src_addr` while it
   * has a socket (live, and resetting until the queues are torn down; recorded), not while it
   * (re)connects.
   */
  address(c: NvmeCtrl): string {
    const base = `traddr=${c.traddr},trsvcid=${c.trsvcid}`;
    return c.state === 'live' || c.state === 'resetting' ? `${base},src_addr=${this.config.ip}` : base;
  }

  // --- connect --------------------------------------------------------------------------------

  /** A controller of subsystem `nqn` to `portal` already exists (nvme-cli: "already connected"). */
  existing(nqn: string, portal: string, hostNqn: string): NvmeCtrl | undefined {
    const key = portalKey(portal);
    return this.ctrlList().find((c) => c.nqn === nqn && c.portal === key && c.hostNqn === hostNqn && c.state !== 'deleting');
  }

  /** What one connection attempt to `portal` costs and answers (no state changes). */
  #attempt(nqn: string, portal: string, hostNqn: string): Attempt {
    const st = this.#world.network.get(portal);
    const rtt = this.#world.latency.nvmeConnectRttMs + 2 * (st.latencyMs ?? 0);
    const served = this.#world.portalServed(portal);
    if (st.kind === 'refusing') return { ms: this.#world.latency.nvmeRefusedMs, outcome: 'refused' };
    if (!served || st.kind === 'dead') return { ms: this.#world.latency.nvmeSynTimeoutMs, outcome: 'timedOut' };
    const found = this.#world.findSubsystem(nqn, portal);
    if (!found || !found.array.nvme.admits(found.subsystem, hostNqn)) return { ms: rtt, outcome: 'io' };
    return { ms: rtt, outcome: 'ok', target: found.subsystem };
  }

  /**
   * `nvme connect`: a controller now (state `connecting`), the connection after its cost; on
   * success the controller joins its subsystem and the namespaces appear, on failure it goes.
   */
  async connect(nqn: string, portal: string, hostNqn: string, opts: { ctrlLossTmoS?: number; reconnectDelayS?: number }, sleep: (ms: number) => Promise<void>): Promise<ConnectOutcome> {
    const key = portalKey(portal);
    const release = await this.#lockCreate(key);
    let handedOver = false;
    try {
      return await this.#create(nqn, key, hostNqn, opts, sleep, () => {
        handedOver = true;
        return release;
      });
    } finally {
      if (!handedOver) release();
    }
  }

  /** Wait for `nvmf_dev_mutex` (FIFO, not interruptible); resolves with its release. */
  async #lockCreate(key: string): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const before = this.#createTail;
    this.#createTail = before.then(() => mine);
    if (this.#creating++ > 0) this.#event(`nvme connect ${key} waits for nvmf_dev_mutex`);
    await before;
    return () => {
      this.#creating -= 1;
      release();
    };
  }

  /** The creation itself, under the lock. `keepLock` hands the release to a connect that outlives its caller. */
  async #create(nqn: string, key: string, hostNqn: string, opts: { ctrlLossTmoS?: number; reconnectDelayS?: number }, sleep: (ms: number) => Promise<void>, keepLock: () => () => void): Promise<ConnectOutcome> {
    const { ip, port } = parsePortal(key);
    const instance = this.#freeInstance();
    const c: NvmeCtrl = {
      instance,
      name: `nvme${instance}`,
      nqn,
      portal: key,
      traddr: ip,
      trsvcid: String(port),
      hostNqn,
      ctrlLossTmoS: opts.ctrlLossTmoS ?? NVMF_DEF_CTRL_LOSS_TMO_S,
      reconnectDelayS: opts.reconnectDelayS ?? NVMF_DEF_RECONNECT_DELAY_S,
      cntlid: 0,
      state: 'connecting',
      subsys: null,
      target: null,
      epoch: 0,
    };
    this.ctrls.set(instance, c);
    this.#addCtrlNodes(c);
    const a = this.#attempt(nqn, key, hostNqn);
    const endsAt = this.#world.clock.now() + a.ms;
    try {
      await sleep(a.ms);
    } catch (e) {
      // The caller gave up (killed nvme-cli): the kernel's connect still ends as it would, and
      // holds the lock until then.
      const release = keepLock();
      this.#world.clock.setTimer(Math.max(0, endsAt - this.#world.clock.now()), () => {
        this.#finishConnect(c, this.#attempt(nqn, key, hostNqn));
        release();
      });
      throw e;
    }
    return this.#finishConnect(c, a);
  }

  #finishConnect(c: NvmeCtrl, a: Attempt): ConnectOutcome {
    if (a.outcome !== 'ok' || !a.target) {
      this.#event(`nvme ${c.name} connect ${c.portal} ${c.nqn} failed (${a.outcome})`);
      this.#removeCtrl(c);
      return { ok: false, stderr: ERR[a.outcome === 'ok' ? 'io' : a.outcome] };
    }
    this.#live(c, a.target);
    this.#event(`nvme ${c.name} new ctrl ${c.portal} ${c.nqn}`);
    return { ok: true, stderr: '', ctrl: c };
  }

  #live(c: NvmeCtrl, target: SimSubsystem): void {
    c.state = 'live';
    c.epoch++;
    if (c.target === null) {
      c.target = target;
      c.cntlid = this.#cntlid(target);
      this.#joinSubsystem(c, target);
    }
    this.#scan(c);
  }

  /** nvmet's controller id: the lowest free from 1 in its subsystem, among this host's controllers. */
  #cntlid(target: SimSubsystem): number {
    const used = new Set(this.ctrlList().filter((x) => x.target === target).map((x) => x.cntlid));
    let n = 1;
    while (used.has(n)) n++;
    return n;
  }

  #joinSubsystem(c: NvmeCtrl, target: SimSubsystem): void {
    let s = this.subsysList().find((x) => x.target.nqn === target.nqn);
    if (!s) {
      s = { instance: c.instance, name: `nvme-subsys${c.instance}`, target, ctrls: [], nsInstance: new Map(), heads: new Map() };
      this.subsystems.set(s.instance, s);
      this.#addSubsysNodes(s);
    }
    s.ctrls.push(c);
    c.subsys = s;
    const dir = `${SUBSYS_DIR}/${s.name}/${c.name}`;
    this.#vfs.symlink(dir, rel(dir, `${CTL_DIR}/${c.name}`));
    this.#vfs.symlink(`${CTL_DIR}/${c.name}/subsystem`, rel(`${CTL_DIR}/${c.name}/subsystem`, `${SUBSYS_DIR}/${s.name}`));
  }

  /** The controller finds the subsystem's namespaces: path devices, and heads where missing. */
  #scan(c: NvmeCtrl): void {
    const s = c.subsys;
    if (!s || !c.target) return;
    for (const ns of [...c.target.namespaces.values()].sort((a, b) => a.nsid - b.nsid)) {
      let k = s.nsInstance.get(ns.nsid);
      if (k === undefined) {
        const used = new Set(s.nsInstance.values());
        k = 1;
        while (used.has(k)) k++;
        s.nsInstance.set(ns.nsid, k);
      }
      if (this.config.nativeMultipath) {
        if (!s.heads.has(ns.nsid)) {
          const head: NvmeNsDev = { name: `nvme${s.instance}n${k}`, ns, subsys: s, ctrl: null, hidden: false, sysDir: `${SUBSYS_DIR}/${s.name}/nvme${s.instance}n${k}`, linked: false };
          s.heads.set(ns.nsid, head);
          this.#addDev(head);
        }
        const pathName = `nvme${s.instance}c${c.instance}n${k}`;
        if (!this.devs.has(pathName)) this.#addDev({ name: pathName, ns, subsys: s, ctrl: c, hidden: true, sysDir: `${CTL_DIR}/${c.name}/${pathName}`, linked: false });
      } else {
        const name = `nvme${c.instance}n${k}`;
        if (!this.devs.has(name)) this.#addDev({ name, ns, subsys: s, ctrl: c, hidden: false, sysDir: `${CTL_DIR}/${c.name}/${name}`, linked: false });
      }
    }
  }

  #addDev(d: NvmeNsDev): void {
    const v = this.#vfs;
    this.devs.set(d.name, d);
    v.attr(`${d.sysDir}/uuid`, () => `${d.ns.uuid}\n`);
    // Linux 6.1 shows `nguid` only for a namespace that has one (nvme_ns_id_attrs_are_visible):
    // nvmet's default, no device_nguid, has none (recorded: the fidelity scene `nvme`).
    if (/[1-9a-f]/.test(d.ns.nguid)) v.attr(`${d.sysDir}/nguid`, () => `${uuidFormat(d.ns.nguid)}\n`);
    v.attr(`${d.sysDir}/nsid`, () => `${d.ns.nsid}\n`);
    v.attr(`${d.sysDir}/wwid`, () => `uuid.${d.ns.uuid}\n`);
    v.attr(`${d.sysDir}/ro`, () => (d.ns.readOnly ? '1\n' : '0\n'));
    v.attr(`${d.sysDir}/size`, () => `${Math.floor(d.ns.sizeBytes / 512)}\n`);
    v.mkdirp(`${d.sysDir}/holders`);
    v.symlink(`/sys/block/${d.name}`, rel(`/sys/block/${d.name}`, d.sysDir));
    v.symlink(`/sys/class/block/${d.name}`, rel(`/sys/class/block/${d.name}`, d.sysDir));
    if (d.hidden) return;
    v.writeText(`/dev/${d.name}`, '');
    this.#event(`nvme add ${d.name} nsid=${d.ns.nsid} uuid=${d.ns.uuid}`);
    this.#udev.event(() => this.#udevAdd(d));
  }

  /** udev's links for a namespace device (60-persistent-storage.rules). */
  links(d: NvmeNsDev): string[] {
    const t = d.subsys.target;
    const id = `${t.model.trim().replace(/\s/g, '_')}_${t.serial.trim().replace(/\s/g, '_')}`;
    return [`/dev/disk/by-id/nvme-uuid.${d.ns.uuid}`, `/dev/disk/by-id/nvme-${id}_${d.ns.nsid}`, `/dev/disk/by-id/nvme-${id}`];
  }

  #udevAdd(d: NvmeNsDev): void {
    if (this.devs.get(d.name) !== d || d.linked) return;
    d.linked = true;
    for (const l of this.links(d)) this.#udev.claim(l, d.name, LINK_PRIORITY.disk);
    this.#event(`udev add /dev/disk/by-id/nvme-uuid.${d.ns.uuid} -> ${d.name}`);
  }

  #removeDev(d: NvmeNsDev): void {
    if (this.devs.get(d.name) !== d) return;
    this.devs.delete(d.name);
    const v = this.#vfs;
    v.remove(d.sysDir);
    v.remove(`/sys/block/${d.name}`);
    v.remove(`/sys/class/block/${d.name}`);
    v.remove(`/dev/${d.name}`);
    this.#udev.releaseAll(d.name);
    if (!d.hidden) this.#event(`nvme remove ${d.name}`);
  }

  // --- sysfs of controllers and subsystems ----------------------------------------------------

  #addCtrlNodes(c: NvmeCtrl): void {
    const v = this.#vfs;
    const dir = `${CTL_DIR}/${c.name}`;
    v.attr(`${dir}/state`, () => `${c.state}\n`);
    v.attr(`${dir}/address`, () => `${this.address(c)}\n`);
    v.attr(`${dir}/transport`, () => 'tcp\n');
    v.attr(`${dir}/subsysnqn`, () => `${c.nqn}\n`);
    v.attr(`${dir}/hostnqn`, () => `${c.hostNqn}\n`);
    v.attr(`${dir}/hostid`, () => `${this.config.hostId}\n`);
    v.attr(`${dir}/cntlid`, () => `${c.cntlid}\n`);
    v.attr(`${dir}/model`, () => `${c.target?.model ?? ''}\n`);
    v.attr(`${dir}/serial`, () => `${c.target?.serial ?? ''}\n`);
    v.attr(`${dir}/firmware_rev`, () => `${c.target?.firmware ?? ''}\n`);
    v.attr(`${dir}/ctrl_loss_tmo`, () => `${c.ctrlLossTmoS}\n`);
    v.attr(`${dir}/reconnect_delay`, () => `${c.reconnectDelayS}\n`);
    v.symlink(`/sys/class/nvme/${c.name}`, rel(`/sys/class/nvme/${c.name}`, dir));
    v.writeText(`/dev/${c.name}`, '');
  }

  #addSubsysNodes(s: NvmeHostSubsys): void {
    const v = this.#vfs;
    const dir = `${SUBSYS_DIR}/${s.name}`;
    v.attr(`${dir}/subsysnqn`, () => `${s.target.nqn}\n`);
    v.attr(`${dir}/model`, () => `${s.target.model}\n`);
    v.attr(`${dir}/serial`, () => `${s.target.serial}\n`);
    v.attr(`${dir}/firmware_rev`, () => `${s.target.firmware}\n`);
    v.attr(`${dir}/iopolicy`, () => 'numa\n');
    v.attr(`${dir}/subsystype`, () => 'nvm\n');
    v.symlink(`/sys/class/nvme-subsystem/${s.name}`, rel(`/sys/class/nvme-subsystem/${s.name}`, dir));
    this.#event(`nvme add ${s.name} ${s.target.nqn}`);
  }

  // --- removal --------------------------------------------------------------------------------

  /** `nvme disconnect`, a failed first connect, or ctrl_loss_tmo: the controller goes, and its subsystem with the last one. */
  #removeCtrl(c: NvmeCtrl): void {
    if (this.ctrls.get(c.instance) !== c) return;
    c.state = 'deleting';
    c.epoch++;
    const s = c.subsys;
    for (const d of [...this.devs.values()].filter((x) => x.ctrl === c)) this.#removeDev(d);
    this.ctrls.delete(c.instance);
    this.#vfs.remove(`${CTL_DIR}/${c.name}`);
    this.#vfs.remove(`/sys/class/nvme/${c.name}`);
    this.#vfs.remove(`/dev/${c.name}`);
    if (s) {
      s.ctrls.splice(s.ctrls.indexOf(c), 1);
      this.#vfs.remove(`${SUBSYS_DIR}/${s.name}/${c.name}`);
      this.#event(`nvme remove ${c.name}`);
      if (s.ctrls.length === 0) {
        for (const h of s.heads.values()) this.#removeDev(h);
        this.subsystems.delete(s.instance);
        this.#vfs.remove(`${SUBSYS_DIR}/${s.name}`);
        this.#vfs.remove(`/sys/class/nvme-subsystem/${s.name}`);
        this.#event(`nvme remove ${s.name}`);
      }
    }
  }

  disconnect(c: NvmeCtrl): void {
    this.#removeCtrl(c);
  }

  // --- a portal lost, and found again -------------------------------------------------------

  /**
   * Look at every live controller: one whose portal no longer answers starts error recovery
   * `nvmeKeepAliveLossMs` later (its keep-alive times out). The simulation calls this when a
   * portal's state changes.
   */
  portalChanged(portal: string): void {
    const key = portalKey(portal);
    const kind = this.#world.network.get(key).kind;
    if (kind === 'healthy' || kind === 'slow') return;
    for (const c of this.ctrlList().filter((x) => x.portal === key && x.state === 'live')) {
      const epoch = c.epoch;
      this.#world.clock.setTimer(this.#world.latency.nvmeKeepAliveLossMs, () => {
        if (c.epoch !== epoch || this.ctrls.get(c.instance) !== c) return;
        const now = this.#world.network.get(key).kind;
        if (now === 'healthy' || now === 'slow') return;
        c.state = 'resetting';
        c.epoch++;
        this.#event(`nvme ${c.name} keep-alive lost: resetting`);
        const e2 = c.epoch;
        this.#world.clock.setTimer(this.#world.latency.nvmeTeardownMs, () => {
          if (c.epoch !== e2 || this.ctrls.get(c.instance) !== c) return;
          c.state = 'connecting';
          c.epoch++;
          this.#event(`nvme ${c.name} reconnecting in ${c.reconnectDelayS} s`);
          this.#reconnect(c, 1);
        });
      });
    }
  }

  #maxReconnects(c: NvmeCtrl): number {
    return c.ctrlLossTmoS < 0 ? Number.POSITIVE_INFINITY : Math.max(1, Math.ceil(c.ctrlLossTmoS / c.reconnectDelayS));
  }

  #reconnect(c: NvmeCtrl, attemptNo: number): void {
    const epoch = c.epoch;
    this.#world.clock.setTimer(c.reconnectDelayS * 1000, () => {
      if (c.epoch !== epoch || this.ctrls.get(c.instance) !== c) return;
      const a = this.#attempt(c.nqn, c.portal, c.hostNqn);
      this.#world.clock.setTimer(a.ms, () => {
        if (c.epoch !== epoch || this.ctrls.get(c.instance) !== c) return;
        if (a.outcome === 'ok' && a.target) {
          this.#event(`nvme ${c.name} reconnected`);
          this.#live(c, a.target);
          return;
        }
        this.#event(`nvme ${c.name} failed reconnect attempt ${attemptNo}`);
        if (attemptNo >= this.#maxReconnects(c)) {
          this.#event(`nvme ${c.name} removing controller (ctrl_loss_tmo)`);
          this.#removeCtrl(c);
          return;
        }
        this.#reconnect(c, attemptNo + 1);
      });
    });
  }

  // --- inspection -----------------------------------------------------------------------------

  /** One line per controller and namespace device: what `leftovers()` counts. */
  stateLines(): string[] {
    return [
      ...this.ctrlList().map((c) => `nvme controller ${c.name} ${c.portal} ${c.nqn} ${c.state}`),
      ...this.subsysList().map((s) => `nvme subsystem ${s.name} ${s.target.nqn}`),
      ...[...this.devs.values()].filter((d) => !d.hidden).map((d) => `nvme namespace ${d.name} ${d.ns.uuid}`),
    ];
  }

  /** The block device of a visible namespace named `name`, if any. */
  dev(name: string): NvmeNsDev | undefined {
    const d = this.devs.get(name);
    return d && !d.hidden ? d : undefined;
  }
}
