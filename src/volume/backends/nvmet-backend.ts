/**
 * The `nvmet` backend: NVMe/TCP volumes served by the Linux kernel's own NVMe target (nvmet,
 * nvmet-tcp), driven through configfs (`/sys/kernel/config/nvmet`) the way Cinder's nvmet target
 * does it with nvmetcli, with a sparse file instead of a logical volume.
 *
 * - create: a sparse file `volume-<id>.img` under the LUN directory, a subsystem
 *   `<prefix>volume-<id>` of its own with the file as namespace 1 (its UUID is the volume's id,
 *   so `vol_uuid` names it), no host allowed yet; the subsystem is linked into every port.
 * - initialize_connection: allow the connector's host NQN (`hosts/<nqn>` linked into the
 *   subsystem's `allowed_hosts`), answer os-brick's `nvmeof` shape: `target_nqn`, `vol_uuid`,
 *   `portals` as `[address, port, "tcp"]` (every portal for a multipath connector, else the
 *   first), `host_nqn`, `access_mode`, `discard`.
 * - terminate_connection: unlink that host (or every one). delete: the subsystem and its file.
 *
 * configfs is a tree of directories the kernel makes files in: making one is `mkdir`, a link is
 * `ln -s`, removing is `rmdir`/`rm`; attributes are written through `Host.writeFile`. Every step
 * looks first and does only what is missing, so a re-run converges. The Host must allow
 * `mkdir`, `rmdir`, `ln`, `rm`, `truncate`, `cp`, `mv` and `df`, and the LUN directory as a root.
 */
import { HitchError } from '../../errors.ts';
import type { ConnectorProperties, NvmeofConnectionInfo, NvmeofPortal } from '../../ports/attach.ts';
import type { Host } from '../../ports/host.ts';
import type { BackendCapacity, BackendSnapshot, BackendVolume, VolumeBackend } from '../../ports/volume-backend.ts';
import { copyVolumeFile, directoryCapacity } from './lun-files.ts';
import { providerFields } from './iscsi-export.ts';

export const NVMET_ROOT = '/sys/kernel/config/nvmet';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NQN_RE = /^nqn\.\d{4}-(0[1-9]|1[0-2])\.[A-Za-z0-9.-]+(:[A-Za-z0-9._:@+=,-]+)?$/;
const NSID = 1;

export interface NvmetBackendOptions {
  readonly host: Host;
  /** `ip:port` TCP portals nvmet listens on (one configfs port each). */
  readonly portals: readonly string[];
  /** Absolute directory of the namespace files. */
  readonly lunDir: string;
  /** Cinder's `host@backend#pool`. */
  readonly hostName?: string;
  readonly nqnPrefix?: string;
}

export interface NvmetLocation {
  readonly nqn: string;
  readonly nsid: number;
  readonly uuid: string;
  readonly path: string;
}

function parseLocation(v: BackendVolume): NvmetLocation {
  const loc = providerFields(v);
  if (typeof loc.nqn !== 'string' || typeof loc.path !== 'string' || typeof loc.uuid !== 'string') {
    throw new HitchError('HITCH_INTERNAL', { detail: `volume ${v.id} has no nvmet provider_location` });
  }
  return { nqn: loc.nqn, nsid: typeof loc.nsid === 'number' ? loc.nsid : NSID, uuid: loc.uuid, path: loc.path };
}

function splitPortal(p: string): { addr: string; port: string } {
  const i = p.lastIndexOf(':');
  const addr = p.slice(0, i).replace(/^\[|\]$/g, '');
  const port = p.slice(i + 1);
  if (i <= 0 || !/^\d{1,5}$/.test(port)) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `nvmet portal ${JSON.stringify(p)} is not address:port` });
  return { addr, port };
}

export class NvmetBackend implements VolumeBackend {
  readonly name = 'nvmet';
  readonly backendName = 'nvmet';
  readonly vendorName = 'Open Source';
  readonly host: string;
  readonly #h: Host;
  readonly #portals: ReadonlyArray<{ addr: string; port: string }>;
  readonly #lunDir: string;
  readonly #prefix: string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: NvmetBackendOptions) {
    if (opts.portals.length === 0) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'nvmet needs at least one portal' });
    if (!opts.lunDir.startsWith('/')) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'nvmet namespace directory must be absolute' });
    this.#h = opts.host;
    this.#portals = opts.portals.map(splitPortal);
    this.#lunDir = opts.lunDir.replace(/\/+$/, '');
    this.#prefix = opts.nqnPrefix ?? 'nqn.2014-08.org.openstack:';
    this.host = opts.hostName ?? `${opts.host.name}@nvmet#nvmet`;
  }

  /** The subsystem NQN of a volume. */
  nqnOf(volumeId: string): string {
    return `${this.#prefix}volume-${volumeId}`;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #exec(cmd: string, args: readonly string[]): Promise<void> {
    await this.#h.exec(cmd, args, { timeoutMs: 30_000 });
  }

  async #mkdir(path: string): Promise<void> {
    if (!(await this.#h.exists(path))) await this.#exec('mkdir', ['--', path]);
  }

  async #link(target: string, link: string): Promise<void> {
    if (!(await this.#h.exists(link))) await this.#exec('ln', ['-s', '--', target, link]);
  }

  async #unlink(link: string): Promise<void> {
    if (await this.#h.exists(link)) await this.#exec('rm', ['--', link]);
  }

  async #rmdir(path: string): Promise<void> {
    if (await this.#h.exists(path)) await this.#exec('rmdir', ['--', path]);
  }

  /** The configfs port for each portal (found by address and port, else made with the next free id). */
  async #ports(): Promise<string[]> {
    const dir = `${NVMET_ROOT}/ports`;
    const ids = await this.#h.readdir(dir);
    const seen = await this.#h.readFiles(ids.flatMap((id) => [`${dir}/${id}/addr_traddr`, `${dir}/${id}/addr_trsvcid`]));
    const out: string[] = [];
    let next = Math.max(0, ...ids.map(Number).filter(Number.isFinite)) + 1;
    for (const p of this.#portals) {
      const i = ids.findIndex((_, k) => seen[2 * k]?.trim() === p.addr && seen[2 * k + 1]?.trim() === p.port);
      if (i >= 0) {
        out.push(`${dir}/${ids[i] ?? ''}`);
        continue;
      }
      const d = `${dir}/${next++}`;
      await this.#mkdir(d);
      await this.#h.writeFile(`${d}/addr_trtype`, 'tcp');
      await this.#h.writeFile(`${d}/addr_adrfam`, p.addr.includes(':') ? 'ipv6' : 'ipv4');
      await this.#h.writeFile(`${d}/addr_traddr`, p.addr);
      await this.#h.writeFile(`${d}/addr_trsvcid`, p.port);
      out.push(d);
    }
    return out;
  }

  async #ensureSubsystem(loc: NvmetLocation, sizeGb: number | null): Promise<void> {
    if (sizeGb !== null && !(await this.#h.exists(loc.path))) await this.#exec('truncate', ['--size', `${sizeGb}G`, '--', loc.path]);
    const sub = `${NVMET_ROOT}/subsystems/${loc.nqn}`;
    await this.#mkdir(sub);
    await this.#h.writeFile(`${sub}/attr_allow_any_host`, '0');
    const ns = `${sub}/namespaces/${loc.nsid}`;
    if (!(await this.#h.exists(ns))) {
      await this.#mkdir(ns);
      await this.#h.writeFile(`${ns}/device_path`, loc.path);
      await this.#h.writeFile(`${ns}/device_uuid`, loc.uuid);
      // The page cache: works on every filesystem (tmpfs has no O_DIRECT).
      await this.#h.writeFile(`${ns}/buffered_io`, '1');
      await this.#h.writeFile(`${ns}/enable`, '1');
    }
    for (const port of await this.#ports()) await this.#link(sub, `${port}/subsystems/${loc.nqn}`);
  }

  createVolume(volume: { id: string; size: number }): Promise<{ providerLocation: string | null }> {
    return this.#serial(async () => {
      if (!UUID_RE.test(volume.id)) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `volume id ${JSON.stringify(volume.id)} is not a UUID` });
      const loc: NvmetLocation = { nqn: this.nqnOf(volume.id), nsid: NSID, uuid: volume.id.toLowerCase(), path: `${this.#lunDir}/volume-${volume.id}.img` };
      await this.#ensureSubsystem(loc, volume.size);
      return { providerLocation: JSON.stringify(loc) };
    });
  }

  createVolumeFromSnapshot(volume: { id: string; size: number }, snapshot: BackendSnapshot): Promise<{ providerLocation: string | null }> {
    return this.#serial(() => this.#createFrom(volume, this.#snapshotPath(snapshot)));
  }

  createClonedVolume(volume: { id: string; size: number }, source: BackendVolume): Promise<{ providerLocation: string | null }> {
    return this.#serial(() => this.#createFrom(volume, parseLocation(source).path));
  }

  /** A new volume whose namespace file starts as a copy of `src` (then grown to its size). */
  async #createFrom(volume: { id: string; size: number }, src: string): Promise<{ providerLocation: string | null }> {
    if (!UUID_RE.test(volume.id)) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `volume id ${JSON.stringify(volume.id)} is not a UUID` });
    const loc: NvmetLocation = { nqn: this.nqnOf(volume.id), nsid: NSID, uuid: volume.id.toLowerCase(), path: `${this.#lunDir}/volume-${volume.id}.img` };
    if (!(await this.#h.exists(loc.path))) {
      await this.#copy(src, loc.path, volume.size);
      await this.#exec('truncate', ['--size', `>${volume.size}G`, '--', loc.path]);
    }
    await this.#ensureSubsystem(loc, null);
    return { providerLocation: JSON.stringify(loc) };
  }

  /** Copy a namespace file: reflink or hole-keeping copy into `.part`, then rename into place. */
  async #copy(src: string, dst: string, sizeGiB: number): Promise<void> {
    this.#checkPath(src);
    this.#checkPath(dst);
    await copyVolumeFile(this.#h, src, dst, sizeGiB, 'namespace file');
  }

  #checkPath(path: string): void {
    if (!path.startsWith(`${this.#lunDir}/`) || path.includes('/../')) {
      throw new HitchError('HITCH_INTERNAL', { detail: `namespace file ${path} is outside ${this.#lunDir}` });
    }
  }

  #snapshotPath(snapshot: BackendSnapshot): string {
    if (!snapshot.providerLocation) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Backend snapshot', id: snapshot.id });
    const loc = providerFields(snapshot);
    if (typeof loc.path !== 'string') throw new HitchError('HITCH_INTERNAL', { detail: `snapshot ${snapshot.id} has no nvmet provider_location` });
    return loc.path;
  }

  /**
   * Grow the namespace file, then ask nvmet to look at its size again (`revalidate_size`, Linux
   * 5.14 and later): a connected host gets a namespace-changed notice and sees the new size.
   */
  extendVolume(volume: BackendVolume, newSizeGiB: number): Promise<void> {
    return this.#serial(async () => {
      const loc = parseLocation(volume);
      this.#checkPath(loc.path);
      await this.#exec('truncate', ['--size', `>${newSizeGiB}G`, '--', loc.path]);
      const revalidate = `${NVMET_ROOT}/subsystems/${loc.nqn}/namespaces/${loc.nsid}/revalidate_size`;
      if (await this.#h.exists(revalidate)) await this.#h.writeFile(revalidate, '1');
    });
  }

  createSnapshot(snapshot: { id: string; size: number }, volume: BackendVolume): Promise<{ providerLocation: string | null }> {
    return this.#serial(async () => {
      if (!UUID_RE.test(snapshot.id)) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `snapshot id ${JSON.stringify(snapshot.id)} is not a UUID` });
      const path = `${this.#lunDir}/snapshot-${snapshot.id}.img`;
      if (!(await this.#h.exists(path))) await this.#copy(parseLocation(volume).path, path, volume.size);
      return { providerLocation: JSON.stringify({ path }) };
    });
  }

  deleteSnapshot(snapshot: BackendSnapshot): Promise<void> {
    return this.#serial(async () => {
      if (!snapshot.providerLocation) return;
      const path = this.#snapshotPath(snapshot);
      this.#checkPath(path);
      await this.#exec('rm', ['-f', '--', path, `${path}.part`]);
    });
  }

  /** The namespace directory's filesystem: its size and what is free on it (the files are sparse). */
  capacity(): Promise<BackendCapacity> {
    return directoryCapacity(this.#h, this.#lunDir);
  }

  deleteVolume(volume: BackendVolume): Promise<void> {
    return this.#serial(async () => {
      if (!volume.providerLocation) return;
      const loc = parseLocation(volume);
      const sub = `${NVMET_ROOT}/subsystems/${loc.nqn}`;
      for (const port of await this.#h.readdir(`${NVMET_ROOT}/ports`)) await this.#unlink(`${NVMET_ROOT}/ports/${port}/subsystems/${loc.nqn}`);
      if (await this.#h.exists(sub)) {
        for (const h of await this.#h.readdir(`${sub}/allowed_hosts`)) await this.#unlink(`${sub}/allowed_hosts/${h}`);
        for (const ns of await this.#h.readdir(`${sub}/namespaces`)) {
          await this.#h.writeFile(`${sub}/namespaces/${ns}/enable`, '0');
          await this.#rmdir(`${sub}/namespaces/${ns}`);
        }
        await this.#rmdir(sub);
      }
      if (!loc.path.startsWith(`${this.#lunDir}/volume-`)) throw new HitchError('HITCH_INTERNAL', { detail: `volume ${volume.id}: namespace file ${loc.path} is outside ${this.#lunDir}` });
      await this.#exec('rm', ['-f', '--', loc.path]);
    });
  }

  initializeConnection(volume: BackendVolume, connector: ConnectorProperties): Promise<NvmeofConnectionInfo> {
    return this.#serial(async () => {
      const hostNqn = connector.nqn;
      if (typeof hostNqn !== 'string' || !NQN_RE.test(hostNqn) || hostNqn.length > 223) {
        throw new HitchError('HITCH_INVALID_INPUT', { reason: 'Connector does not have an NVMe host NQN (nqn); NVMe/TCP needs one' });
      }
      const loc = parseLocation(volume);
      await this.#ensureSubsystem(loc, null);
      await this.#mkdir(`${NVMET_ROOT}/hosts/${hostNqn}`);
      await this.#link(`${NVMET_ROOT}/hosts/${hostNqn}`, `${NVMET_ROOT}/subsystems/${loc.nqn}/allowed_hosts/${hostNqn}`);
      const portals = (connector.multipath ? this.#portals : this.#portals.slice(0, 1)).map((p): NvmeofPortal => [p.addr, p.port, 'tcp']);
      return {
        driver_volume_type: 'nvmeof',
        data: { target_nqn: loc.nqn, vol_uuid: loc.uuid, portals, host_nqn: hostNqn, volume_id: volume.id, access_mode: 'rw', discard: true, qos_specs: null },
      };
    });
  }

  terminateConnection(volume: BackendVolume, connector: ConnectorProperties | null): Promise<void> {
    return this.#serial(async () => {
      if (!volume.providerLocation) return;
      const loc = parseLocation(volume);
      const allowed = `${NVMET_ROOT}/subsystems/${loc.nqn}/allowed_hosts`;
      if (!(await this.#h.exists(allowed))) return;
      const hosts = (await this.#h.readdir(allowed)).filter((h) => connector === null || h === connector.nqn);
      for (const h of hosts) await this.#unlink(`${allowed}/${h}`);
    });
  }
}
