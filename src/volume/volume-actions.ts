/**
 * Volume actions beyond attach and detach: `os-extend` (available; in-use from 3.42, telling
 * compute with a `volume-extended` event), `os-set_bootable`, `os-update_readonly_flag` and
 * `os-retype` (on this backend: a new type that names another backend is refused).
 *
 * Extend, as Cinder runs it: one conditional UPDATE to `extending` (remembering the status it
 * came from), a quota reservation of the added gigabytes, the backend grows the LUN, then the
 * new size and the old status in one UPDATE with the reservation committed — or, when the
 * backend fails, `error_extending` with the reservation rolled back.
 */
import { HitchError } from '../errors.ts';
import type { VolumeBackend } from '../ports/volume-backend.ts';
import { volumeExtendedEvents, type ComputeEvents } from './compute-events.ts';
import type { QuotaService } from './quota-service.ts';
import type { SnapshotService } from './snapshot-service.ts';
import { specIsTrue, specsOf, type VolumeTypeService } from './type-service.ts';
import { cinderTime, type VolumeRepo, type VolumeRow } from './volume-repo.ts';

export interface ActionCaller {
  readonly userId: string;
  readonly projectId: string;
  readonly isAdmin: boolean;
}

export interface ExtendOutcome {
  /** The servers told of the new size (in-use extends), with Nova's answer for each. */
  readonly notified: ReadonlyArray<{ readonly server: string; readonly status: string; readonly code: number }>;
}

function pyDict(statuses: string): string {
  return `{'status': '${statuses}'}`;
}

export class VolumeActions {
  readonly #repo: VolumeRepo;
  readonly #backend: VolumeBackend;
  readonly #quotas: QuotaService;
  readonly #types: VolumeTypeService;
  readonly #events: () => ComputeEvents;
  readonly #volume: (caller: ActionCaller, id: string) => Promise<VolumeRow>;

  constructor(opts: {
    repo: VolumeRepo;
    backend: VolumeBackend;
    quotas: QuotaService;
    types: VolumeTypeService;
    snapshots: SnapshotService;
    events: () => ComputeEvents;
    volume: (caller: ActionCaller, id: string) => Promise<VolumeRow>;
  }) {
    this.#repo = opts.repo;
    this.#backend = opts.backend;
    this.#quotas = opts.quotas;
    this.#types = opts.types;
    this.#events = opts.events;
    this.#volume = opts.volume;
  }

  /**
   * `os-extend`: `attached` (3.42+ on an in-use volume) extends in use and tells compute; else
   * the volume must be available.
   */
  async extend(caller: ActionCaller, id: string, newSize: number, attached: boolean): Promise<ExtendOutcome> {
    const v = await this.#volume(caller, id);
    if (newSize <= v.size) {
      throw new HitchError('HITCH_INVALID_INPUT', { reason: `New size for extend must be greater than current size. (current: ${v.size}, extended: ${newSize}).` });
    }
    const from = attached ? 'in-use' : 'available';
    const refused = async (): Promise<HitchError> => {
      const cur = (await this.#repo.getVolume(id)) ?? v;
      return new HitchError('HITCH_INVALID_VOLUME', { reason: `Volume ${id} status must be '${pyDict(from)}' to extend, currently ${cur.status}.` });
    };
    // The cheap refusals first, so a refused extend changes nothing at all.
    if (v.status !== from) throw await refused();
    const typeName = (await this.#types.byId(v.volume_type_id))?.name ?? v.volume_type_id;
    await this.#quotas.checkSize(v.project_id, newSize);
    const reservation = await this.#quotas.reserve(v.project_id, [['gigabytes', newSize - v.size], [`gigabytes_${typeName}`, newSize - v.size]]);
    if (!(await this.#repo.transition(id, { statuses: [from] }, { status: 'extending', previous_status: from }))) {
      await this.#quotas.rollback(reservation);
      throw await refused();
    }
    try {
      await this.#backend.extendVolume({ id: v.id, size: v.size, providerLocation: v.provider_location }, newSize);
    } catch {
      await this.#quotas.rollback(reservation);
      await this.#repo.transition(id, { statuses: ['extending'] }, { status: 'error_extending', previous_status: null });
      return { notified: [] };
    }
    await this.#repo.tx(async (trx) => {
      await this.#repo.transition(id, { statuses: ['extending'] }, { status: from, size: newSize, previous_status: null }, trx);
      await this.#quotas.commit(reservation, trx);
    });
    if (!attached) return { notified: [] };
    const servers = (await this.#repo.attachmentsOfVolume(id)).flatMap((a) => (a.instance_uuid !== null && a.attach_status === 'attached' ? [a.instance_uuid] : []));
    try {
      const results = await this.#events().send(volumeExtendedEvents(id, servers));
      return { notified: results.map((r) => ({ server: r.server_uuid, status: r.status, code: r.code })) };
    } catch {
      // Compute could not be told: the volume keeps its new size (Cinder logs and goes on).
      return { notified: servers.map((server) => ({ server, status: 'failed', code: 503 })) };
    }
  }

  /** `os-set_bootable`: any status but maintenance. */
  async setBootable(caller: ActionCaller, id: string, bootable: boolean): Promise<void> {
    const v = await this.#volume(caller, id);
    if (v.status === 'maintenance') throw new HitchError('HITCH_INVALID_VOLUME', { reason: 'The volume cannot be updated during maintenance.' });
    await this.#repo.updateVolume(id, { bootable: bootable ? 1 : 0 });
  }

  /**
   * `os-update_readonly_flag`: only while available; one UPDATE that compares the admin metadata
   * it read, so a racing change is never lost.
   */
  async setReadonly(caller: ActionCaller, id: string, readonly: boolean): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const v = await this.#volume(caller, id);
      if (v.status !== 'available') {
        throw new HitchError('HITCH_INVALID_VOLUME', { reason: `Volume ${id} status must be available to update readonly flag, but current status is: ${v.status}.` });
      }
      const md = { ...(JSON.parse(v.admin_metadata) as Record<string, string>), readonly: readonly ? 'True' : 'False' };
      const res = await this.#repo.db
        .updateTable('volumes')
        .set({ admin_metadata: JSON.stringify(md), updated_at: cinderTime() })
        .where('id', '=', id)
        .where('status', '=', 'available')
        .where('admin_metadata', '=', v.admin_metadata)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) > 0) return;
    }
    throw new HitchError('HITCH_CONFLICT', { reason: 'readonly' }, { message: `Volume ${id} changed while its readonly flag was being set; try again.` });
  }

  /**
   * `os-retype` on this backend: the type changes in one UPDATE (status available or in-use, a
   * different type), with the per-type quota moved in the same transaction.
   */
  async retype(caller: ActionCaller, id: string, newTypeRef: string, migrationPolicy: string | undefined): Promise<void> {
    const v = await this.#volume(caller, id);
    const target = await this.#types.forCreate(caller, newTypeRef);
    const specs = specsOf(target);
    const toMulti = specIsTrue(specs['multiattach']);
    if ((v.multiattach === 1) !== toMulti && v.status !== 'available') {
      throw new HitchError('HITCH_INVALID_INPUT', { reason: `Invalid volume_type passed, retypes affecting multiattach are only allowed on available volumes, the specified volume however currently has a status of: ${v.status}.` });
    }
    const wanted = specs['volume_backend_name'];
    if (wanted !== undefined && wanted !== this.#backend.backendName) {
      // Cinder would migrate (policy on-demand) or fail later (never); Hitch has one backend.
      throw new HitchError('HITCH_INVALID_INPUT', { reason: `Volume type ${target.name} needs backend ${wanted}; this service has only ${this.#backend.backendName}, so the volume cannot be migrated (migration_policy ${migrationPolicy ?? 'never'}).` });
    }
    const oldType = (await this.#types.byId(v.volume_type_id))?.name ?? v.volume_type_id;
    await this.#repo.tx(async (trx) => {
      await this.#quotas.consume(trx, v.project_id, [
        [`volumes_${target.name}`, 1],
        [`gigabytes_${target.name}`, v.size],
        [`volumes_${oldType}`, -1],
        [`gigabytes_${oldType}`, -v.size],
      ]);
      const res = await trx
        .updateTable('volumes')
        .set({ volume_type_id: target.id, multiattach: toMulti ? 1 : 0, updated_at: cinderTime() })
        .where('id', '=', id)
        .where('status', 'in', ['available', 'in-use'])
        .where('volume_type_id', '!=', target.id)
        .where((eb) => eb.or([eb('migration_status', 'is', null), eb('migration_status', 'in', ['success', 'error', 'none'])]))
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) {
        throw new HitchError('HITCH_INVALID_VOLUME', {
          reason: 'Retype needs volume to be in available or in-use state, not be part of an active migration or a consistency group, requested type has to be different that the one from the volume, and for in-use volumes front-end qos specs cannot change.',
        });
      }
    });
  }
}
