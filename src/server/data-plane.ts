/**
 * The data plane behind a cloud: the block storage backend and, per compute host, its Host,
 * initiator library and hypervisor driver. `sim` + `sim` is the simulated world of a scenario
 * (one virtual clock for everything); `tgt` + `libvirt` is this Linux host for real: tgtd serves
 * the volumes on loopback portals (or, `nvmet`, the kernel's NVMe target serves them over TCP),
 * libvirt + QEMU run the servers, and the whole cloud above does not care which it has.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Brick } from '../brick/index.ts';
import { HitchError } from '../errors.ts';
import type { Clock, Host } from '../ports/host.ts';
import { DEFAULT_ALLOWED_BINARIES, DEFAULT_ALLOWED_ROOTS } from '../host/allowlist.ts';
import { LinuxHost } from '../host/linux-host.ts';
import { realClock } from '../host/real-clock.ts';
import { StdinFileHost } from '../host/stdin-file-host.ts';
import { SimHost } from '../sim/sim-host.ts';
import type { SimClient } from '../sim/remote/client.ts';
import { Simulation } from '../sim/simulation.ts';
import type { DomainSpec, HypervisorDriver } from '../ports/hypervisor.ts';
import { LibvirtDriver } from '../virt/libvirt-driver.ts';
import { blockDeviceBytes, SimHypervisor, vfsReader } from '../sim/sim-hypervisor.ts';
import type { VolumeBackend } from '../ports/volume-backend.ts';
import { SimBackend } from '../sim/sim-backend.ts';
import { NvmetBackend, NVMET_ROOT } from '../volume/backends/nvmet-backend.ts';
import { TgtBackend } from '../volume/backends/tgt-backend.ts';
import { Tgtadm } from '../volume/backends/tgtadm.ts';
import { TgtDaemon } from '../volume/backends/tgtd.ts';
import type { HitchConfig } from './config.ts';
import { remoteDataPlane } from './remote-data-plane.ts';

export interface DataPlaneHost {
  readonly name: string;
  readonly host: Host;
  readonly clock: Clock;
  readonly brick: Brick;
  /**
   * A new initiator library for this host, as a restarted compute service would have: no memory
   * of what the previous one did (crash-recovery tests use it).
   */
  readonly newBrick: () => Brick;
  readonly hypervisor: HypervisorDriver;
  /** The address the host reports to the storage (Nova's `my_ip`). */
  readonly ip: string;
}

export interface DataPlane {
  readonly backend: VolumeBackend;
  readonly hosts: readonly DataPlaneHost[];
  /** The simulation, when the data plane is simulated. */
  readonly sim: Simulation | null;
  /** The simulator daemon's client, when the data plane is remote (`simSocket`). */
  readonly simClient?: SimClient;
  /** tgtd, when the backend is `tgt` (portal faults in tests, whether Hitch started it). */
  readonly tgtd?: TgtDaemon;
  /** Stop whatever the data plane started (daemons, watchers). */
  close(): Promise<void>;
}

export async function createDataPlane(cfg: HitchConfig): Promise<DataPlane> {
  if (cfg.simSocket !== null) return remoteDataPlane(cfg);
  if (cfg.backend === 'sim' && cfg.virt === 'sim') return simDataPlane(cfg);
  if (cfg.backend === 'tgt' || cfg.backend === 'nvmet') return realDataPlane(cfg);
  throw new HitchError('HITCH_INVALID_ARGUMENT', {
    reason: `backend ${cfg.backend} with virt ${cfg.virt} is not available: the simulated array's portals exist only in the simulator; use --backend tgt or nvmet with --virt libvirt, or sim with sim`,
  });
}

function simDataPlane(cfg: HitchConfig): DataPlane {
  const sim = Simulation.create(cfg.scenario, { seed: cfg.seed, autoAdvance: true });
  const backend = new SimBackend({ sim });
  const hosts = sim.hostNames().map((name): DataPlaneHost => {
    const host = new SimHost(sim, name);
    const hostConfig = sim.host(name).config;
    const iscsiNodesDir = cfg.iscsiNodesDir ?? hostConfig.iscsiNodesDir;
    const ip = hostConfig.ip ?? '127.0.0.1';
    const newBrick = (): Brick => new Brick({ host, ip, multipath: true, mode: cfg.attachMode, iscsiNodesDir, connectorPropertiesTtlMs: cfg.connectorPropertiesTtlMs });
    const hypervisor = new SimHypervisor({ clock: sim.clock, blockSourceExists: (p) => host.exists(p), blockSourceBytes: (p) => blockDeviceBytes(vfsReader(sim.host(name).vfs), p) });
    return { name, host, clock: sim.clock, brick: newBrick(), newBrick, hypervisor, ip };
  });
  return { backend, hosts, sim, close: async () => undefined };
}

/** Where a server's serial console goes on the real data plane (the guest's own log). */
export function consoleLogPath(dataDir: string, domainName: string): string {
  return join(dataDir, 'console', `${domainName}.log`);
}

/** Where the `tgt` backend keeps its sparse LUN files. */
export function lunDir(dataDir: string): string {
  return join(dataDir, 'tgt');
}

/** Where the `nvmet` backend keeps its namespace files. */
export function nvmetDir(dataDir: string): string {
  return join(dataDir, 'nvmet');
}

/**
 * The `nvmet` backend on this host: the kernel's NVMe target must be there (configfs mounted,
 * `nvmet` and `nvmet-tcp` loaded) before a volume can be made; Hitch loads no modules itself.
 */
async function nvmetBackend(host: Host, cfg: HitchConfig): Promise<NvmetBackend> {
  if (!(await host.exists(NVMET_ROOT))) {
    throw new HitchError('HITCH_INVALID_ARGUMENT', {
      reason: `backend nvmet: ${NVMET_ROOT} does not exist on ${host.name}; load the kernel's NVMe target (modprobe nvmet nvmet-tcp) with configfs mounted on /sys/kernel/config, or use --backend tgt`,
    });
  }
  mkdirSync(nvmetDir(cfg.dataDir), { recursive: true, mode: 0o700 });
  return new NvmetBackend({ host, portals: cfg.nvmetPortals, lunDir: nvmetDir(cfg.dataDir) });
}

/**
 * This machine: one compute host (its hostname), its block storage served by tgtd on the
 * configured portals (`tgt`) or by the kernel's NVMe target (`nvmet`), and libvirt (or, with
 * `virt: sim`, a simulated hypervisor in front of the real target and the real initiator).
 */
async function realDataPlane(cfg: HitchConfig): Promise<DataPlane> {
  mkdirSync(join(cfg.dataDir, 'console'), { recursive: true, mode: 0o700 });
  // A crash during a virsh call can leave its input file behind (a CHAP value among them): start empty.
  rmSync(join(cfg.dataDir, 'stdin'), { recursive: true, force: true });
  mkdirSync(join(cfg.dataDir, 'stdin'), { recursive: true, mode: 0o700 });
  const linux = new LinuxHost({
    name: hostname(),
    allowedRoots: [...DEFAULT_ALLOWED_ROOTS, cfg.dataDir],
    // `truncate` makes a volume's sparse LUN file and `rm` removes it; `cp` and `mv` copy one for
    // a snapshot or a clone, `df` reports the pool's space; the backend names only files in its
    // LUN directory. nvmet's configfs tree is made with `mkdir`, `ln -s` and `rmdir`.
    allowedBinaries: [...DEFAULT_ALLOWED_BINARIES, 'truncate', 'rm', 'cp', 'mv', 'df', ...(cfg.backend === 'nvmet' ? ['mkdir', 'rmdir', 'ln'] : [])],
  });
  const host = new StdinFileHost(linux, join(cfg.dataDir, 'stdin'));
  let tgtd: TgtDaemon | undefined;
  let backend: VolumeBackend;
  if (cfg.backend === 'nvmet') {
    backend = await nvmetBackend(host, cfg);
  } else {
    mkdirSync(lunDir(cfg.dataDir), { recursive: true, mode: 0o700 });
    const tgtadm = new Tgtadm({ host, controlPort: cfg.tgtControlPort });
    tgtd = new TgtDaemon({ tgtadm, portals: cfg.tgtPortals });
    await tgtd.ensure({ start: cfg.tgtStart });
    backend = new TgtBackend({ tgtadm, portals: cfg.tgtPortals, lunDir: lunDir(cfg.dataDir) });
  }
  const stop = async (): Promise<void> => {
    await tgtd?.stop();
  };
  try {
    const ip = cfg.bind === '0.0.0.0' || cfg.bind === '::' ? '127.0.0.1' : cfg.bind;
    const newBrick = (): Brick => new Brick({ host, ip, multipath: true, mode: cfg.attachMode, connectorPropertiesTtlMs: cfg.connectorPropertiesTtlMs, ...(cfg.iscsiNodesDir ? { iscsiNodesDir: cfg.iscsiNodesDir } : {}) });
    const hypervisor: HypervisorDriver =
      cfg.virt === 'libvirt'
        ? new GuestBootDriver(new LibvirtDriver({ host, uri: cfg.libvirtUri }), cfg)
        : new SimHypervisor({ clock: realClock, blockSourceExists: (p) => host.exists(p), blockSourceBytes: (p) => blockDeviceBytes(host, p) });
    const hosts: DataPlaneHost[] = [{ name: host.name, host, clock: realClock, brick: newBrick(), newBrick, hypervisor, ip }];
    return { backend, hosts, sim: null, ...(tgtd ? { tgtd } : {}), close: stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Servers on a real hypervisor need something to boot: the configured kernel and initramfs
 * (direct kernel boot) for a server from the image (Hitch's image service holds no image data),
 * its volume for one that boots from a volume (the firmware boots the disk), the serial console
 * to a file in the data directory, and the configured virtualization type. Every other call goes
 * straight to the driver.
 */
export class GuestBootDriver implements HypervisorDriver {
  readonly kind: HypervisorDriver['kind'];
  readonly #d: HypervisorDriver;
  readonly #cfg: HitchConfig;

  constructor(driver: HypervisorDriver, cfg: HitchConfig) {
    this.#d = driver;
    this.#cfg = cfg;
    this.kind = driver.kind;
  }

  defineAndStart(spec: DomainSpec, opts?: Parameters<HypervisorDriver['defineAndStart']>[1]): Promise<void> {
    const c = this.#cfg;
    const booted: DomainSpec = {
      ...spec,
      virtType: c.virtType,
      // A server that boots from a volume boots what the volume holds: the firmware reads its disk.
      ...(spec.boot || spec.bootsFromVolume || c.guestKernel === null
        ? {}
        : { boot: { kernel: c.guestKernel, ...(c.guestInitrd !== null ? { initrd: c.guestInitrd } : {}), cmdline: c.guestCmdline } }),
      console: spec.console ?? { kind: 'file', path: consoleLogPath(c.dataDir, spec.name) },
    };
    return this.#d.defineAndStart(booted, opts);
  }

  destroy: HypervisorDriver['destroy'] = (...a) => this.#d.destroy(...a);
  undefine: HypervisorDriver['undefine'] = (...a) => this.#d.undefine(...a);
  domainState: HypervisorDriver['domainState'] = (...a) => this.#d.domainState(...a);
  attachDisk: HypervisorDriver['attachDisk'] = (...a) => this.#d.attachDisk(...a);
  detachDisk: HypervisorDriver['detachDisk'] = (...a) => this.#d.detachDisk(...a);
  resizeDisk: HypervisorDriver['resizeDisk'] = (...a) => this.#d.resizeDisk(...a);
  listDisks: HypervisorDriver['listDisks'] = (...a) => this.#d.listDisks(...a);
  defineSecret: HypervisorDriver['defineSecret'] = (...a) => this.#d.defineSecret(...a);
  undefineSecret: HypervisorDriver['undefineSecret'] = (...a) => this.#d.undefineSecret(...a);
}

