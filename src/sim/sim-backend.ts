/**
 * The `sim` backend: each volume is a target of its own on a simulated storage array, with one
 * LUN and per-volume CHAP credentials, exported only to the initiators that asked
 * (`initialize_connection`) — the way Cinder's LVM + tgt/LIO driver behaves. Multipath
 * connectors get every portal (`target_portals/iqns/luns`), as Cinder's iSCSI targets return.
 *
 * An array whose scenario says `"protocol": "nvmeof"` serves NVMe/TCP instead, the way Cinder's
 * nvmet target (and Hitch's `nvmet` backend) does: a subsystem `<prefix>volume-<id>` per volume
 * with the volume as namespace 1 (its UUID the volume's id), the connector's host NQN admitted
 * at `initialize_connection`, and os-brick's `nvmeof` connection info (`target_nqn`,
 * `vol_uuid`, `portals` as `[address, port, "tcp"]`: every portal for a multipath connector).
 */
import { randomBytes } from 'node:crypto';
import { HitchError } from '../errors.ts';
import { localArrays, type SimArrays } from './array-port.ts';
import type { Simulation } from './simulation.ts';
import type { BackendCapacity, BackendSnapshot, BackendVolume, VolumeBackend } from '../ports/volume-backend.ts';
import type { ConnectionInfo, ConnectorProperties, NvmeofConnectionInfo, NvmeofPortal } from '../ports/attach.ts';
import { parsePortal } from './network.ts';
import { iscsiConnectionInfo, providerFields, volumeIqn } from '../volume/backends/iscsi-export.ts';

export type SimBackendOptions = SimBackendWhere & {
  /** Array to provision on; default the scenario's first array. */
  readonly arrayName?: string;
  /** LUN number each volume gets on its target (tgt numbers LUNs from 1). */
  readonly lun?: number;
  readonly iqnPrefix?: string;
  /** What new volumes are exported over; default the array's scenario `protocol` (iSCSI unless it says `nvmeof`). */
  readonly protocol?: 'iscsi' | 'nvmeof';
  readonly nqnPrefix?: string;
  /** The pool's size in GiB, as scheduler-stats reports it (default 10240). */
  readonly capacityGiB?: number;
};

/** What `provider_location` holds for an NVMe/TCP sim volume. */
interface SimNvmeLocation {
  readonly protocol: 'nvmeof';
  readonly array: string;
  readonly nqn: string;
  readonly nsid: number;
  readonly uuid: string;
}

const NQN_RE = /^nqn\.\d{4}-(0[1-9]|1[0-2])\.[A-Za-z0-9.-]+(:[A-Za-z0-9._:@+=,-]+)?$/;

function nvmeLocation(v: BackendVolume): SimNvmeLocation | null {
  const f = providerFields(v);
  if (f.protocol !== 'nvmeof') return null;
  const { array, nqn, nsid, uuid } = f;
  if (typeof array !== 'string' || typeof nqn !== 'string' || typeof nsid !== 'number' || typeof uuid !== 'string') {
    throw new HitchError('HITCH_INTERNAL', { detail: `volume ${v.id} has no sim NVMe provider_location` });
  }
  return { protocol: 'nvmeof', array, nqn, nsid, uuid };
}

/** The arrays to provision on: a simulation in this process, or any `SimArrays` (the simulator daemon's). */
type SimBackendWhere = { readonly sim: Simulation; readonly arrays?: never } | { readonly arrays: SimArrays; readonly sim?: never };

/** What `provider_location` holds for a sim volume (backend-private, never shown to users). */
interface SimLocation {
  readonly array: string;
  readonly iqn: string;
  readonly lun: number;
  readonly wwn: string;
  readonly chapUser: string;
  readonly chapPassword: string;
}

function parseLocation(v: BackendVolume | BackendSnapshot, kind = 'Backend volume'): SimLocation {
  if (!v.providerLocation) throw new HitchError('HITCH_NOT_FOUND', { kind, id: v.id });
  const f = providerFields(v);
  const { array, iqn, lun, wwn, chapUser, chapPassword } = f;
  if (typeof array !== 'string' || typeof iqn !== 'string' || typeof lun !== 'number' || typeof wwn !== 'string' || typeof chapUser !== 'string' || typeof chapPassword !== 'string') {
    throw new HitchError('HITCH_INTERNAL', { detail: `${kind === 'Backend volume' ? 'volume' : 'snapshot'} ${v.id} has no sim provider_location` });
  }
  return { array, iqn, lun, wwn, chapUser, chapPassword };
}

/** The target a snapshot's copy lives on: never exported (an array-side snapshot). */
function snapshotIqn(snapshotId: string, prefix: string): string {
  return `${prefix}snapshot-${snapshotId}`;
}

const GiB = 1024 ** 3;

export class SimBackend implements VolumeBackend {
  readonly name = 'sim';
  readonly host: string;
  readonly backendName: string;
  readonly vendorName = 'Hitch';
  readonly #capacityGiB: number;
  readonly #arrays: SimArrays;
  readonly #array: string;
  readonly #lun: number;
  readonly #prefix: string;
  readonly #protocol: 'iscsi' | 'nvmeof';
  readonly #nqnPrefix: string;

  constructor(opts: SimBackendOptions) {
    this.#arrays = opts.sim ? localArrays(opts.sim) : opts.arrays;
    const arrayName = opts.arrayName ?? this.#arrays.arrayNames()[0];
    if (!arrayName) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'the simulation has no storage array' });
    this.#array = arrayName;
    this.#lun = opts.lun ?? 1;
    this.#prefix = opts.iqnPrefix ?? 'iqn.2010-10.org.openstack:';
    this.host = `hitch@sim-${arrayName}#${arrayName}`;
    this.#protocol = opts.protocol ?? this.#arrays.protocolOf?.(arrayName) ?? 'iscsi';
    this.#nqnPrefix = opts.nqnPrefix ?? 'nqn.2014-08.org.openstack:';
    if (this.#protocol === 'nvmeof' && !this.#arrays.nvme) {
      throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `array ${arrayName} exports NVMe/TCP, which the simulator daemon's array calls do not serve; run the simulation in this process` });
    }
    this.backendName = `sim-${arrayName}`;
    this.#capacityGiB = opts.capacityGiB ?? 10_240;
  }

  #nvme() {
    const n = this.#arrays.nvme;
    if (!n) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'these simulated arrays serve no NVMe/TCP' });
    return n;
  }

  async createVolume(volume: { id: string; size: number }): Promise<{ providerLocation: string | null }> {
    if (this.#protocol === 'nvmeof') {
      const loc: SimNvmeLocation = { protocol: 'nvmeof', array: this.#array, nqn: `${this.#nqnPrefix}volume-${volume.id}`, nsid: 1, uuid: volume.id.toLowerCase() };
      await this.#ensureSubsystem(loc, volume.size);
      return { providerLocation: JSON.stringify(loc) };
    }
    return this.#provision(volumeIqn(volume.id, this.#prefix), volume.size);
  }

  /** A target of its own with one LUN of `sizeGiB` and fresh CHAP credentials. */
  async #provision(iqn: string, sizeGiB: number): Promise<{ providerLocation: string }> {
    await this.#arrays.createTarget(this.#array, iqn);
    const lun = await this.#arrays.addLun(this.#array, iqn, { lun: this.#lun, sizeBytes: sizeGiB * GiB });
    const loc: SimLocation = {
      array: this.#array,
      iqn,
      lun: lun.lun,
      wwn: lun.wwn,
      // Cinder's CHAP user is 20 characters and the secret 16; random per volume.
      chapUser: randomBytes(10).toString('hex'),
      chapPassword: randomBytes(8).toString('hex'),
    };
    return { providerLocation: JSON.stringify(loc) };
  }

  /** The volume's subsystem and namespace, made where missing (an in-process array starts empty with every start of Hitch). */
  async #ensureSubsystem(loc: SimNvmeLocation, sizeGiB: number): Promise<void> {
    const n = this.#nvme();
    if ((await n.subsystem(loc.array, loc.nqn)) !== null) return;
    await n.createSubsystem(loc.array, loc.nqn);
    await n.addNamespace(loc.array, loc.nqn, { nsid: loc.nsid, uuid: loc.uuid, sizeBytes: sizeGiB * 1024 ** 3 });
  }

  async deleteVolume(volume: BackendVolume): Promise<void> {
    if (!volume.providerLocation) return;
    const nv = nvmeLocation(volume);
    if (nv) {
      if ((await this.#nvme().subsystem(nv.array, nv.nqn)) !== null) await this.#nvme().deleteSubsystem(nv.array, nv.nqn);
      return;
    }
    const loc = parseLocation(volume);
    if (await this.#arrays.target(loc.array, loc.iqn)) await this.#arrays.deleteTarget(loc.array, loc.iqn);
  }

  async extendVolume(volume: BackendVolume, newSizeGiB: number): Promise<void> {
    if (nvmeLocation(volume)) {
      throw new HitchError('HITCH_INVALID_VOLUME', { reason: `Volume ${volume.id} is an NVMe/TCP volume of the simulator, whose namespaces do not grow yet; extend an iSCSI volume` });
    }
    const loc = parseLocation(volume);
    // A target the in-process array forgot comes back at the new size.
    if ((await this.#arrays.target(loc.array, loc.iqn)) === null) return this.#reprovision(loc, newSizeGiB);
    await this.#arrays.resizeLun(loc.array, loc.iqn, loc.lun, newSizeGiB * GiB);
  }

  /**
   * The simulated array holds no data, so a snapshot is what an array-side snapshot looks like
   * from outside: a target with one LUN of the volume's size, exported to nobody.
   */
  async createSnapshot(snapshot: { id: string; size: number }, volume: BackendVolume): Promise<{ providerLocation: string | null }> {
    if (!nvmeLocation(volume)) {
      const loc = parseLocation(volume);
      if ((await this.#arrays.target(loc.array, loc.iqn)) === null) await this.#reprovision(loc, volume.size);
    }
    return this.#provision(snapshotIqn(snapshot.id, this.#prefix), snapshot.size);
  }

  async deleteSnapshot(snapshot: BackendSnapshot): Promise<void> {
    if (!snapshot.providerLocation) return;
    const loc = parseLocation(snapshot, 'Backend snapshot');
    if (await this.#arrays.target(loc.array, loc.iqn)) await this.#arrays.deleteTarget(loc.array, loc.iqn);
  }

  async createVolumeFromSnapshot(volume: { id: string; size: number }, snapshot: BackendSnapshot): Promise<{ providerLocation: string | null }> {
    const loc = parseLocation(snapshot, 'Backend snapshot');
    if ((await this.#arrays.target(loc.array, loc.iqn)) === null) await this.#reprovision(loc, snapshot.size);
    return this.createVolume(volume);
  }

  async createClonedVolume(volume: { id: string; size: number }, source: BackendVolume): Promise<{ providerLocation: string | null }> {
    if (!nvmeLocation(source)) {
      const loc = parseLocation(source);
      if ((await this.#arrays.target(loc.array, loc.iqn)) === null) await this.#reprovision(loc, source.size);
    }
    return this.createVolume(volume);
  }

  async capacity(allocatedGiB: number): Promise<BackendCapacity> {
    return { totalGiB: this.#capacityGiB, freeGiB: Math.max(0, this.#capacityGiB - allocatedGiB) };
  }

  async initializeConnection(volume: BackendVolume, connector: ConnectorProperties): Promise<ConnectionInfo> {
    const nv = nvmeLocation(volume);
    if (nv) return this.#initializeNvme(volume, nv, connector);
    if (typeof connector.initiator !== 'string' || connector.initiator === '') {
      throw new HitchError('HITCH_INVALID_INPUT', { reason: 'Connector does not have an initiator (iSCSI needs one)' });
    }
    const loc = parseLocation(volume);
    // The array's export time is virtual; exportTo spends it on the simulation's clock.
    const allow = { chapUser: loc.chapUser, chapPassword: loc.chapPassword, luns: [loc.lun] };
    let target = await this.#arrays.exportTo(loc.array, loc.iqn, connector.initiator, allow);
    if (target === null) {
      await this.#reprovision(loc, volume.size);
      target = await this.#arrays.exportTo(loc.array, loc.iqn, connector.initiator, allow);
      if (target === null) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Target', id: loc.iqn });
    }
    return iscsiConnectionInfo({ volumeId: volume.id, iqn: loc.iqn, lun: loc.lun, portals: target.portals, chapUser: loc.chapUser, chapPassword: loc.chapPassword }, connector);
  }

  /**
   * An in-process simulated array starts empty with every start of Hitch, while the volumes
   * live on in the database: give a volume whose target the array no longer has its target and
   * LUN back, with the WWN and size it was created with — what a real array's persistence does.
   */
  async #reprovision(loc: SimLocation, sizeGiB: number): Promise<void> {
    await this.#arrays.createTarget(loc.array, loc.iqn);
    await this.#arrays.addLun(loc.array, loc.iqn, { lun: loc.lun, sizeBytes: sizeGiB * 1024 ** 3, wwn: loc.wwn });
  }

  async #initializeNvme(volume: BackendVolume, loc: SimNvmeLocation, connector: ConnectorProperties): Promise<NvmeofConnectionInfo> {
    const hostNqn = connector.nqn;
    if (typeof hostNqn !== 'string' || !NQN_RE.test(hostNqn) || hostNqn.length > 223) {
      throw new HitchError('HITCH_INVALID_INPUT', { reason: 'Connector does not have an NVMe host NQN (nqn); NVMe/TCP needs one' });
    }
    await this.#ensureSubsystem(loc, volume.size);
    const sub = await this.#nvme().allowHost(loc.array, loc.nqn, hostNqn);
    if (sub === null) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Subsystem', id: loc.nqn });
    const all = sub.portals.map((p): NvmeofPortal => {
      const { ip, port } = parsePortal(p);
      return [ip, String(port), 'tcp'];
    });
    const portals = connector.multipath ? all : all.slice(0, 1);
    return {
      driver_volume_type: 'nvmeof',
      data: { target_nqn: loc.nqn, vol_uuid: loc.uuid, portals, host_nqn: hostNqn, volume_id: volume.id, access_mode: 'rw', discard: true, qos_specs: null },
    };
  }

  async terminateConnection(volume: BackendVolume, connector: ConnectorProperties | null): Promise<void> {
    if (!volume.providerLocation) return;
    const nv = nvmeLocation(volume);
    if (nv) {
      const n = this.#nvme();
      const sub = await n.subsystem(nv.array, nv.nqn);
      if (!sub) return;
      for (const h of sub.hosts) if (connector === null || h === connector.nqn) await n.denyHost(nv.array, nv.nqn, h);
      return;
    }
    const loc = parseLocation(volume);
    const target = await this.#arrays.target(loc.array, loc.iqn);
    if (!target) return;
    if (connector === null || typeof connector.initiator !== 'string') {
      for (const initiator of target.initiators) await this.#arrays.denyInitiator(loc.array, loc.iqn, initiator);
    } else {
      await this.#arrays.denyInitiator(loc.array, loc.iqn, connector.initiator);
    }
  }
}
