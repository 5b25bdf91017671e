/**
 * One simulated compute host's Linux storage stack: the initiator name, the iSCSI node
 * database, sessions, SCSI hosts and disks (`sdX`, H:C:T:L), their sysfs, and the udev links
 * that appear a modelled delay after a disk does. Device-mapper multipath lives in
 * `multipath-model.ts`, the commands in `commands/`.
 *
 * The sysfs layout follows the kernel's, links included, because initiators find devices by
 * globbing it: `/sys/class/iscsi_host/host2/device/session1/target2:0:0` and
 * `/sys/class/scsi_host/host2/device/session1/target2:0:0/2:0:0:1/block/sdb` (os-brick).
 */
import type { SimLun } from './array.ts';
import { inspectHost, leftovers, stateLines, type HostSnapshot } from './inspect.ts';
import { NodeDb } from './iscsi-node-db.ts';
import { IscsidModel } from './iscsid-model.ts';

/** Where Debian's open-iscsi keeps node records. */
export const DEBIAN_ISCSI_NODES_DIR = '/etc/iscsi/nodes';
import { MultipathModel, type FindMultipaths } from './multipath-model.ts';
import { addControllerNode, addDiskNodes, addSessionNodes, bootstrapHostFs, diskDeviceDir, diskLinks, parseScan, removeDiskNodes, removeSessionNodes, sdName } from './sysfs-layout.ts';
import { LINK_PRIORITY, UdevModel } from './udev-model.ts';
import { NvmeHostModel } from './nvme-model.ts';
import { Vfs } from './vfs.ts';

export { parseScan, sdName } from './sysfs-layout.ts';
import type { SimWorld, TargetAtPortal } from './world.ts';

export interface LocalDisk {
  readonly name: string;
  readonly sizeBytes?: number;
  readonly ro?: boolean;
}

export interface FcHostConfig {
  readonly host: number;
  readonly portName: string;
  readonly nodeName: string;
  readonly portState?: string;
}

export interface ComputeHostConfig {
  readonly name: string;
  readonly initiator: string;
  readonly ip: string;
  readonly multipathd: boolean;
  readonly findMultipaths: FindMultipaths;
  /** The first SCSI host number iSCSI sessions get (host0/host1 are usually the disk controllers). */
  readonly firstScsiHost: number;
  readonly localDisks: readonly LocalDisk[];
  /** Mount table: mount point → source device. */
  readonly mounts: Readonly<Record<string, string>>;
  readonly fcHosts: readonly FcHostConfig[];
  /** With a host NQN the host has the NVMe/TCP initiator (`nvme-model.ts`). */
  readonly nvmeHostNqn?: string;
  readonly nvmeHostId?: string;
  readonly nvmeNativeMultipath?: boolean;
  /** open-iscsi's node record directory (`/etc/iscsi/nodes` on Debian). */
  readonly iscsiNodesDir: string;
  /** Sessions already logged in when the simulation begins. */
  readonly sessions?: ReadonlyArray<{ readonly target: string; readonly portal: string }>;
}

export interface SimSession {
  readonly sid: number;
  readonly target: string;
  readonly portal: string;
  readonly tpgt: number;
  readonly hostNo: number;
  readonly iface: string;
  readonly found: TargetAtPortal;
  readonly chapUser?: string;
  /**
   * The kernel's session recovery timeout (`recovery_tmo` in sysfs), in seconds: the record's
   * `node.session.timeo.replacement_timeout` at login; multipathd lowers it once the session's
   * disk is a path of a map.
   */
  recoveryTmo: number;
}

export interface ScsiDisk {
  readonly name: string;
  readonly index: number;
  readonly session: SimSession;
  readonly lun: SimLun;
  /**
   * The size the kernel read when it added the disk (READ CAPACITY): a LUN that grows later
   * shows its new size only after a rescan of the device (`echo 1 > …/device/rescan`, or
   * `iscsiadm -m session --rescan`), as on a real host.
   */
  capacityBytes: number;
  /** True once udev has handled the disk: its /dev/disk links exist, its database entry too. */
  linked: boolean;
  state: 'running' | 'offline';
}

export class SimComputeHost {
  readonly config: ComputeHostConfig;
  readonly vfs = new Vfs();
  readonly nodes: NodeDb;
  readonly sessions = new Map<number, SimSession>();
  readonly disks = new Map<string, ScsiDisk>();
  readonly multipath: MultipathModel;
  readonly iscsid: IscsidModel;
  readonly udev: UdevModel;
  /** NVMe/TCP, on a host with a host NQN; null otherwise. */
  readonly nvme: NvmeHostModel | null;
  /** Opens of each block device (`sdb`, `dm-0`): a map held open cannot be flushed. */
  readonly #opens = new Map<string, number>();
  /** SendTargets discovery addresses (`-m discoverydb`). */
  readonly discoveryDb = new Set<string>();
  readonly world: SimWorld;
  #nextSid = 1;
  #nextHost: number;
  #baseline: string[] = [];

  constructor(world: SimWorld, config: ComputeHostConfig) {
    this.world = world;
    this.config = config;
    this.#nextHost = config.firstScsiHost;
    this.multipath = new MultipathModel(this);
    this.iscsid = new IscsidModel(this, world);
    this.udev = new UdevModel(world, this.vfs);
    this.nodes = new NodeDb(this.vfs, config.iscsiNodesDir);
    this.#bootstrap();
    const nqn = config.nvmeHostNqn;
    this.nvme =
      nqn === undefined
        ? null
        : new NvmeHostModel(world, this.vfs, this.udev, config.name, {
            hostNqn: nqn,
            hostId: config.nvmeHostId ?? /uuid:([0-9a-f-]{36})$/i.exec(nqn)?.[1]?.toLowerCase() ?? '00000000-0000-0000-0000-000000000000',
            nativeMultipath: config.nvmeNativeMultipath ?? true,
            ip: config.ip,
          });
  }

  get name(): string {
    return this.config.name;
  }

  get initiator(): string {
    return this.config.initiator;
  }

  event(text: string): void {
    this.world.event(this.name, text);
  }

  /** Node records, sessions, disks and dm maps as plain data. */
  snapshot(): HostSnapshot {
    return inspectHost(this);
  }

  /**
   * iSCSI/SCSI/multipath state beyond what the scenario started with (empty = clean), one
   * line per item — the seed's host starts with two sessions that are not leftovers.
   */
  leftovers(): string[] {
    return leftovers(this, this.#baseline);
  }

  /** Take the current state as the starting point `leftovers()` compares with. */
  markBaseline(): void {
    this.#baseline = stateLines(this);
  }

  #bootstrap(): void {
    bootstrapHostFs(this.vfs, this.config, this.world.latency);
  }

  // --- sessions ---------------------------------------------------------------------------

  /** Create a logged-in session and its SCSI host (after the login succeeded). */
  addSession(target: string, portal: string, found: TargetAtPortal, iface: string, chapUser?: string, replacementTimeoutS = 120): SimSession {
    const recoveryTmo = Number.isFinite(replacementTimeoutS) ? replacementTimeoutS : 120;
    const s: SimSession = { sid: this.#nextSid++, target, portal, tpgt: found.target.tpgt, hostNo: this.#nextHost++, iface, found, recoveryTmo, ...(chapUser !== undefined ? { chapUser } : {}) };
    this.sessions.set(s.sid, s);
    addSessionNodes(this.vfs, s, this.config, () => this.sessionUp(s));
    this.event(`session add sid=${s.sid} host${s.hostNo} ${portal},${s.tpgt} ${target}`);
    return s;
  }

  /** Log a session out: its disks go, then its SCSI host. */
  removeSession(s: SimSession): void {
    for (const d of this.disksOf(s)) this.deleteDisk(d);
    removeSessionNodes(this.vfs, s);
    this.sessions.delete(s.sid);
    this.event(`session remove sid=${s.sid} host${s.hostNo}`);
  }

  sessionList(): SimSession[] {
    return [...this.sessions.values()].sort((a, b) => a.sid - b.sid);
  }

  findSession(target: string, portal: string): SimSession | undefined {
    return this.sessionList().find((s) => s.target === target && s.portal === portal);
  }

  sessionByHost(hostNo: number): SimSession | undefined {
    return this.sessionList().find((s) => s.hostNo === hostNo);
  }

  disksOf(s: SimSession): ScsiDisk[] {
    return this.diskList().filter((d) => d.session.sid === s.sid);
  }

  diskList(): ScsiDisk[] {
    return [...this.disks.values()].sort((a, b) => a.index - b.index);
  }

  // --- opens ----------------------------------------------------------------------------------

  /**
   * Open block device `dev` (`dm-0`, `sdb`), as QEMU holds a guest's disk; returns the close.
   * Closing a device opened for `write` raises udev's change event, whose probe holds the
   * device open a moment longer (`UdevModel.change`).
   */
  open(dev: string, opts: { readonly write?: boolean } = {}): () => void {
    this.#opens.set(dev, (this.#opens.get(dev) ?? 0) + 1);
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      const n = (this.#opens.get(dev) ?? 1) - 1;
      if (n > 0) this.#opens.set(dev, n);
      else this.#opens.delete(dev);
      if (opts.write && this.vfs.exists(`/dev/${dev}`)) this.udev.change(() => (this.vfs.exists(`/dev/${dev}`) ? this.open(dev) : () => undefined));
    };
  }

  openCount(dev: string): number {
    return this.#opens.get(dev) ?? 0;
  }

  // --- SCSI scan and disks -------------------------------------------------------------------

  /**
   * Scan a session for LUNs (`lun` undefined = every LUN exported to this initiator). Disks
   * already present are kept. A LUN under a `device-never-appears` fault is never found; under
   * `device-appears-late` it shows up `delayMs` later, on its own.
   */
  scan(s: SimSession, lun?: number): void {
    if (!this.sessions.has(s.sid)) return;
    // tgt's LUN 0 is a controller: a SCSI device (no disk) that a full scan finds.
    if (lun === undefined && s.found.array.kind === 'tgt') addControllerNode(this.vfs, s);
    for (const l of this.world.visibleLuns(s.found, this.initiator)) {
      if (lun !== undefined && l.lun !== lun) continue;
      if (this.diskList().some((d) => d.session.sid === s.sid && d.lun.lun === l.lun)) continue;
      const ctx = { now: this.world.clock.now(), host: this.name, portal: s.portal, target: s.target, wwn: l.wwn };
      if (this.world.faults.hit('device-never-appears', ctx)) {
        this.event(`scsi scan ${s.hostNo}:0:0:${l.lun} no device (fault device-never-appears)`);
        continue;
      }
      const late = this.world.faults.hit('device-appears-late', ctx);
      if (late) {
        this.world.clock.setTimer(late.delayMs ?? 5_000, () => {
          if (this.sessions.has(s.sid) && !this.diskList().some((d) => d.session.sid === s.sid && d.lun.lun === l.lun)) this.#addDisk(s, l);
        });
        continue;
      }
      this.#addDisk(s, l);
    }
  }

  #addDisk(s: SimSession, lun: SimLun): ScsiDisk {
    const used = new Set([...this.disks.values()].map((d) => d.index));
    const local = new Set(this.config.localDisks.map((d) => d.name));
    let index = 0;
    while (used.has(index) || local.has(sdName(index))) index++;
    const d: ScsiDisk = { name: sdName(index), index, session: s, lun, capacityBytes: lun.sizeBytes, linked: false, state: 'running' };
    this.disks.set(d.name, d);
    const hctl = `${s.hostNo}:0:0:${lun.lun}`;
    addDiskNodes(this.vfs, d, { readOnly: () => this.isReadOnly(d), remove: () => this.deleteDisk(d), transportUp: () => this.sessionUp(s), rescan: () => this.rescanDisk(d) });
    this.event(`scsi add ${hctl} ${d.name} wwn=${lun.wwn}`);
    this.udev.event(() => this.#udevAdd(d));
    return d;
  }

  /**
   * The kernel re-reads a disk's capacity (`sd_revalidate_disk`): the LUN's size now, if its
   * portal answers; the write fails with EIO otherwise, as a rescan of an unreachable disk does.
   */
  rescanDisk(d: ScsiDisk): 'EIO' | undefined {
    if (!this.sessionUp(d.session) || d.state !== 'running') return 'EIO';
    if (d.capacityBytes !== d.lun.sizeBytes) {
      this.event(`scsi capacity ${d.name} ${d.capacityBytes} -> ${d.lun.sizeBytes}`);
      d.capacityBytes = d.lun.sizeBytes;
    }
    return undefined;
  }

  /** Whether the session's portal still answers (a portal that died after login fails its paths). */
  sessionUp(s: SimSession): boolean {
    const kind = this.world.network.get(s.portal).kind;
    return kind === 'healthy' || kind === 'slow';
  }

  diskDeviceDir(d: ScsiDisk): string {
    return diskDeviceDir(d);
  }

  byPathLink(d: ScsiDisk): string {
    return `/dev/disk/by-path/ip-${d.session.portal}-iscsi-${d.session.target}-lun-${d.lun.lun}`;
  }

  isReadOnly(d: ScsiDisk): boolean {
    const f = this.world.faults.peek('read-only', { now: this.world.clock.now(), host: this.name, wwn: d.lun.wwn });
    return d.lun.readOnly || f !== undefined;
  }

  /**
   * A session that already existed when the simulation began (the seed's host had two):
   * record, login, scan, udev links and multipath map all in place at time 0, at no cost.
   */
  restoreSession(target: string, portal: string): SimSession {
    const found = this.world.findTarget(target, portal);
    if (found === undefined) throw new Error(`no array serves ${target} at ${portal}`);
    if (this.nodes.get(target, portal) === undefined) this.nodes.add(target, portal, -1);
    const s = this.addSession(target, portal, found, 'default');
    this.scan(s);
    for (const d of this.disksOf(s)) this.#udevAdd(d, true);
    return s;
  }

  #udevAdd(d: ScsiDisk, mapNow = false): void {
    if (this.disks.get(d.name) !== d || d.linked) return;
    d.linked = true;
    for (const link of diskLinks(d, this.byPathLink(d))) this.udev.claim(link, d.name, LINK_PRIORITY.disk);
    this.event(`udev add ${this.byPathLink(d)}`);
    this.multipath.pathAdded(d, mapNow);
  }

  /** `echo 1 > /sys/block/sdX/device/delete`, or a logout: the disk and its links go. */
  deleteDisk(d: ScsiDisk): void {
    if (!this.disks.has(d.name)) return;
    this.multipath.pathRemoved(d);
    this.disks.delete(d.name);
    removeDiskNodes(this.vfs, d);
    this.udev.releaseAll(d.name);
    this.event(`scsi remove ${d.session.hostNo}:0:0:${d.lun.lun} ${d.name}`);
  }

  /**
   * A write to a sysfs file through a command or the Host port. A scan write blocks while the
   * kernel scans (like the real `echo … > scan`), so it costs scan time.
   */
  async writeSysfs(path: string, data: string, signal?: AbortSignal): Promise<void> {
    const real = this.vfs.exists(path) ? this.vfs.realpath(path) : path;
    if (/^\/sys\/devices\/platform\/host\d+\/session\d+\/target[\d:]+\/[\d:]+\/delete$/.test(real) && data.trim() === '1') {
      // The kernel stops the disk (flushes its cache, tears its queue down) before the write returns.
      await this.world.clock.sleep(this.world.latency.deviceDeleteMs, signal);
    }
    const m = /^\/sys\/devices\/platform\/host(\d+)\/scsi_host\/host\d+\/scan$/.exec(real);
    if (m) {
      const scan = parseScan(data);
      this.vfs.write(path, data); // validates (EINVAL)
      const s = this.sessionByHost(Number(m[1]));
      if (scan === undefined || s === undefined) return;
      await this.world.clock.sleep(this.world.latency.lunScanMs, signal);
      if (scan.channel !== undefined && scan.channel !== 0) return;
      if (scan.target !== undefined && scan.target !== 0) return;
      this.scan(s, scan.lun);
      return;
    }
    this.vfs.write(path, data);
  }
}
