/**
 * The `sim` backend: each volume is a target of its own on a simulated storage array, with one
 * LUN and per-volume CHAP credentials, exported only to the initiators that asked
 * (`initialize_connection`) — the way Cinder's LVM + tgt/LIO driver behaves. Multipath
 * connectors get every portal (`target_portals/iqns/luns`), as Cinder's iSCSI targets return.
 */
import { randomBytes } from 'node:crypto';
import { HitchError } from '../errors.ts';
import { localArrays, type SimArrays } from './array-port.ts';
import type { Simulation } from './simulation.ts';
import type { BackendVolume, VolumeBackend } from '../ports/volume-backend.ts';
import type { ConnectionInfo, ConnectorProperties } from '../ports/attach.ts';
import { iscsiConnectionInfo, providerFields, volumeIqn } from '../volume/backends/iscsi-export.ts';

export type SimBackendOptions = SimBackendWhere & {
  /** Array to provision on; default the scenario's first array. */
  readonly arrayName?: string;
  /** LUN number each volume gets on its target (tgt numbers LUNs from 1). */
  readonly lun?: number;
  readonly iqnPrefix?: string;
};

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

function parseLocation(v: BackendVolume): SimLocation {
  const f = providerFields(v);
  const { array, iqn, lun, wwn, chapUser, chapPassword } = f;
  if (typeof array !== 'string' || typeof iqn !== 'string' || typeof lun !== 'number' || typeof wwn !== 'string' || typeof chapUser !== 'string' || typeof chapPassword !== 'string') {
    throw new HitchError('HITCH_INTERNAL', { detail: `volume ${v.id} has no sim provider_location` });
  }
  return { array, iqn, lun, wwn, chapUser, chapPassword };
}

export class SimBackend implements VolumeBackend {
  readonly name = 'sim';
  readonly host: string;
  readonly #arrays: SimArrays;
  readonly #array: string;
  readonly #lun: number;
  readonly #prefix: string;

  constructor(opts: SimBackendOptions) {
    this.#arrays = opts.sim ? localArrays(opts.sim) : opts.arrays;
    const arrayName = opts.arrayName ?? this.#arrays.arrayNames()[0];
    if (!arrayName) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'the simulation has no storage array' });
    this.#array = arrayName;
    this.#lun = opts.lun ?? 1;
    this.#prefix = opts.iqnPrefix ?? 'iqn.2010-10.org.openstack:';
    this.host = `hitch@sim-${arrayName}#${arrayName}`;
  }

  async createVolume(volume: { id: string; size: number }): Promise<{ providerLocation: string | null }> {
    const iqn = volumeIqn(volume.id, this.#prefix);
    await this.#arrays.createTarget(this.#array, iqn);
    const lun = await this.#arrays.addLun(this.#array, iqn, { lun: this.#lun, sizeBytes: volume.size * 1024 ** 3 });
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

  async deleteVolume(volume: BackendVolume): Promise<void> {
    if (!volume.providerLocation) return;
    const loc = parseLocation(volume);
    if (await this.#arrays.target(loc.array, loc.iqn)) await this.#arrays.deleteTarget(loc.array, loc.iqn);
  }

  async initializeConnection(volume: BackendVolume, connector: ConnectorProperties): Promise<ConnectionInfo> {
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

  async terminateConnection(volume: BackendVolume, connector: ConnectorProperties | null): Promise<void> {
    if (!volume.providerLocation) return;
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
