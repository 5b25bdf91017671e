/**
 * The block storage service: volumes, their status machine, attachments and exports.
 *
 *   available → reserved → attaching → in-use → detaching → available
 *                        (error_attaching when the backend fails to export)
 *
 * Every transition is one conditional UPDATE in VolumeRepo; a loser gets Cinder's 400
 * (`Invalid volume: …`) and nothing changes. The backend is called outside database
 * transactions and undone when the status write that follows it loses. Creating and deleting a
 * volume takes and gives back its quota in the transaction that writes its row.
 *
 * The other families hang off this service: `types` (volume types, QoS), `quotas`,
 * `snapshots`, `actions` (extend, bootable, read-only, retype, force delete) and `transfers`.
 */
import { randomUUID } from 'node:crypto';
import { HitchError, ref } from '../errors.ts';
import type { BackendVolume, VolumeBackend } from '../ports/volume-backend.ts';
import type { ConnectionInfo, ConnectorProperties } from '../ports/attach.ts';
import { NO_COMPUTE_EVENTS, type ComputeEvents } from './compute-events.ts';
import { parseConnector } from './connector.ts';
import { QuotaService, volumeDeltas } from './quota-service.ts';
import { ServiceRegistry } from './service-registry.ts';
import { backendSnapshot, SnapshotService, type SnapshotRow } from './snapshot-service.ts';
import { TransferService } from './transfer-service.ts';
import { specIsTrue, specsOf, VolumeTypeService, type VolumeTypeRow } from './type-service.ts';
import { VolumeActions } from './volume-actions.ts';
import { cinderTime, VolumeRepo, type AttachmentRow, type SortSpec, type StatusGuard, type VolumeFilter, type VolumeRow } from './volume-repo.ts';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { AVAILABILITY_ZONE } from './zone.ts';

/** The caller, as the API layer resolved it from the token. */
export interface Caller {
  readonly userId: string;
  readonly projectId: string;
  readonly isAdmin: boolean;
}

export interface CreateVolumeInput {
  /** GiB; default: the snapshot's or the source volume's size. */
  readonly size?: number;
  readonly name?: string | null;
  readonly description?: string | null;
  readonly volumeType?: string | null;
  readonly availabilityZone?: string | null;
  readonly metadata?: Readonly<Record<string, string>> | null;
  /** In-process callers only: the API refuses the flag, as Cinder does (types carry it). */
  readonly multiattach?: boolean;
  /** Make it from this snapshot's data (size and type default to the snapshot's). */
  readonly snapshotId?: string | null;
  /** Make it as a copy of this volume (size and type default to the source's). */
  readonly sourceVolid?: string | null;
}

export interface VolumeServiceOptions {
  /**
   * The largest volume one may ask for, GiB (config `maxVolumeSizeGiB`): the one limit the API,
   * the CLI (which leaves it to the API) and the dashboard (which reads it from the page) share.
   */
  readonly maxSizeGiB?: number;
  /** Who to tell when an attached volume grew (Nova's `volume-extended` event). */
  readonly computeEvents?: ComputeEvents;
  /**
   * The clock the retries of a status write that failed wait on (virtual in the simulator);
   * default the real one.
   */
  readonly clock?: { sleep(ms: number): Promise<void> };
  /** This process's name among the `cinder-api` services (default: the backend's host). */
  readonly apiHost?: string;
}

export { AVAILABILITY_ZONE };

/** Statuses from which a volume may be deleted (Cinder's list). */
export const DELETABLE = ['available', 'error', 'error_restoring', 'error_extending', 'error_managing'];
/** Statuses `os-reset_status` accepts (Cinder's). */
export const RESETTABLE_STATUSES = ['available', 'error', 'creating', 'deleting', 'in-use', 'attaching', 'detaching', 'error_deleting', 'maintenance', 'reserved', 'error_attaching', 'error_detaching', 'error_extending', 'downloading', 'uploading', 'retyping', 'extending', 'backing-up', 'restoring-backup', 'error_restoring', 'error_managing'];

export function notFound(id: string): HitchError {
  return new HitchError('HITCH_NOT_FOUND', { kind: 'Volume', id }, { message: `Volume ${id} could not be found.` });
}

function attachmentNotFound(id: string): HitchError {
  return new HitchError('HITCH_NOT_FOUND', { kind: 'VolumeAttachment', id }, { message: `VolumeAttachment ${id} could not be found.` });
}

function conflict(v: VolumeRow, expected: readonly string[], message?: string): HitchError {
  const details = { volume: ref(v), expected: expected.join(' or '), current: v.status };
  return new HitchError('HITCH_VOLUME_STATUS_CONFLICT', details, message === undefined ? undefined : { message: `Invalid volume: ${message}` });
}

export function backendView(v: VolumeRow): BackendVolume {
  return { id: v.id, size: v.size, providerLocation: v.provider_location };
}

/** Cinder's admin metadata of a volume (`readonly`, …). */
export function adminMetadataOf(v: VolumeRow): Record<string, string> {
  return JSON.parse(v.admin_metadata) as Record<string, string>;
}

export function isReadonly(v: VolumeRow): boolean {
  return adminMetadataOf(v)['readonly'] === 'True';
}

const DELETE_REFUSED = 'must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.';

/** The default of `maxVolumeSizeGiB`: 16 TiB. */
export const MAX_VOLUME_SIZE_GIB = 16_384;

export class VolumeService {
  readonly repo: VolumeRepo;
  readonly backend: VolumeBackend;
  readonly maxSizeGiB: number;
  readonly types: VolumeTypeService;
  readonly quotas: QuotaService;
  readonly snapshots: SnapshotService;
  readonly actions: VolumeActions;
  readonly transfers: TransferService;
  readonly services: ServiceRegistry;
  #events: ComputeEvents;
  readonly #sleep: (ms: number) => Promise<void>;
  /** Status writes that failed and are being tried again (`drain` waits for them). */
  readonly #retrying = new Set<Promise<void>>();
  #closed = false;

  constructor(db: Kysely<Database>, backend: VolumeBackend, opts: VolumeServiceOptions = {}) {
    this.repo = new VolumeRepo(db);
    this.backend = backend;
    this.maxSizeGiB = opts.maxSizeGiB ?? MAX_VOLUME_SIZE_GIB;
    const clock = opts.clock;
    this.#sleep = clock ? (ms) => clock.sleep(ms) : (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());
    this.types = new VolumeTypeService(db);
    this.quotas = new QuotaService(db);
    this.snapshots = new SnapshotService({ db, backend, quotas: this.quotas, types: this.types, volume: (c, id) => this.get(c, id) });
    this.#events = opts.computeEvents ?? NO_COMPUTE_EVENTS;
    this.actions = new VolumeActions({ repo: this.repo, backend, quotas: this.quotas, types: this.types, snapshots: this.snapshots, events: () => this.#events, volume: (c, id) => this.get(c, id) });
    this.transfers = new TransferService({ db, quotas: this.quotas, volume: (c, id) => this.get(c, id) });
    this.services = new ServiceRegistry(db, { backendHost: backend.host, apiHost: opts.apiHost ?? backend.host });
  }

  /** Refuse a size over the limit, as Cinder's VolumeSizeExceedsLimit does (413). */
  checkSize(size: number): void {
    if (size > this.maxSizeGiB) throw new HitchError('HITCH_VOLUME_TOO_LARGE', { size, max: this.maxSizeGiB });
  }

  /** Where `volume-extended` events go (the composition sets it once compute exists). */
  setComputeEvents(events: ComputeEvents): void {
    this.#events = events;
  }

  async init(): Promise<void> {
    await this.repo.ensureDefaultTypes();
    await this.services.start();
  }

  /** Stop the services' heartbeat, and the retries of failed status writes (`drain` first to see them through). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.services.stop();
  }

  /** Wait until every failed status write being retried has been written (or `close` stopped it). */
  async drain(): Promise<void> {
    while (this.#retrying.size > 0) await Promise.allSettled([...this.#retrying]);
  }

  /**
   * A delete that failed ends `error_deleting`, from which it may be tried again, never
   * `deleting`, which nothing would ever finish. When that write fails too (a full disk, a locked
   * database), it is tried again with back-off (50 ms doubling to 5 s) until it is written.
   */
  async #endFailedDelete(id: string): Promise<void> {
    const write = (): Promise<unknown> => this.repo.transition(id, { statuses: ['deleting'] }, { status: 'error_deleting' });
    try {
      await write();
      return;
    } catch {
      // Retried below, in the background: the caller's own error is what it must see now.
    }
    const retry = (async () => {
      for (let delay = 50; !this.#closed; delay = Math.min(delay * 2, 5_000)) {
        await this.#sleep(delay);
        try {
          await write();
          return;
        } catch {
          // Still failing: wait longer.
        }
      }
    })();
    this.#retrying.add(retry);
    void retry.finally(() => this.#retrying.delete(retry));
  }

  /** A volume the caller may see, or 404 (another project's volume is simply not there). */
  async get(caller: Caller, id: string): Promise<VolumeRow> {
    const v = await this.repo.getVolume(id);
    if (!v || (!caller.isAdmin && v.project_id !== caller.projectId)) throw notFound(id);
    return v;
  }

  async create(caller: Caller, input: CreateVolumeInput): Promise<VolumeRow> {
    // Cinder's order: the type, then the snapshot, then the source volume (each 404 when missing).
    const asked = input.volumeType ?? null;
    const named = asked === null ? null : await this.types.forCreate(caller, asked);
    const snapshot = input.snapshotId ? await this.snapshots.get(caller, input.snapshotId) : null;
    const source = input.sourceVolid ? await this.get(caller, input.sourceVolid) : null;
    if (snapshot && snapshot.status !== 'available') {
      throw new HitchError('HITCH_INVALID_SNAPSHOT', { reason: "Originating snapshot status must be one of 'available' values" });
    }
    if (source && !['available', 'in-use'].includes(source.status)) {
      throw new HitchError('HITCH_INVALID_VOLUME', { reason: "Originating source volume status must be one of 'available, in-use' values" });
    }
    const size = input.size ?? snapshot?.size ?? source?.size;
    if (size === undefined || !Number.isInteger(size) || size <= 0) {
      throw new HitchError('HITCH_INVALID_INPUT', { reason: `Volume size '${String(size ?? 'None')}' must be an integer and greater than 0` });
    }
    if (snapshot && size < snapshot.size) {
      throw new HitchError('HITCH_INVALID_INPUT', { reason: `Volume size '${size}'GB cannot be smaller than the snapshot size ${snapshot.size}GB. They must be >= original snapshot size.` });
    }
    this.checkSize(size);
    if (source && size < source.size) {
      throw new HitchError('HITCH_INVALID_INPUT', { reason: `Volume size '${size}'GB cannot be smaller than original volume size  ${source.size}GB. They must be >= original volume size.` });
    }
    // A copy keeps its origin's type unless another is asked for.
    const originType = snapshot?.volume_type_id ?? source?.volume_type_id;
    const type: VolumeTypeRow = named ?? (originType ? await this.types.byId(originType) : undefined) ?? (await this.types.forCreate(caller, null));
    const az = input.availabilityZone ?? source?.availability_zone ?? AVAILABILITY_ZONE;
    if (az !== AVAILABILITY_ZONE) throw new HitchError('HITCH_INVALID_INPUT', { reason: `Availability zone '${az}' is invalid.` });
    await this.quotas.checkSize(caller.projectId, size);
    const specs = specsOf(type);
    const multiattach = input.multiattach === true || specIsTrue(specs['multiattach']);
    const now = cinderTime();
    const row: VolumeRow = {
      id: randomUUID(),
      project_id: caller.projectId,
      user_id: caller.userId,
      name: input.name ?? null,
      description: input.description ?? null,
      size,
      status: 'creating',
      attach_status: 'detached',
      migration_status: null,
      multiattach: multiattach ? 1 : 0,
      // A copy of a bootable volume boots too (Cinder copies the flag).
      bootable: source?.bootable ?? (snapshot ? ((await this.repo.getVolume(snapshot.volume_id))?.bootable ?? 0) : 0),
      volume_type_id: type.id,
      availability_zone: az,
      host: this.backend.host,
      provider_location: null,
      metadata: JSON.stringify(input.metadata ?? {}),
      created_at: now,
      updated_at: now,
      snapshot_id: snapshot?.id ?? null,
      source_volid: source?.id ?? null,
      admin_metadata: '{}',
      previous_status: null,
    };
    await this.repo.tx(async (trx) => {
      await this.quotas.consume(trx, caller.projectId, volumeDeltas(size, type.name));
      await this.repo.insertVolume(row, trx);
    });
    // The scheduler's capability filter: a type that names another backend fits nowhere here.
    const wanted = specs['volume_backend_name'];
    if (wanted !== undefined && wanted !== this.backend.backendName) {
      await this.repo.transition(row.id, { statuses: ['creating'] }, { status: 'error' });
      return (await this.repo.getVolume(row.id)) ?? row;
    }
    try {
      const target = { id: row.id, size: row.size };
      const { providerLocation } = snapshot
        ? await this.backend.createVolumeFromSnapshot(target, backendSnapshot(snapshot))
        : source
          ? await this.backend.createClonedVolume(target, backendView(source))
          : await this.backend.createVolume(target);
      await this.repo.transition(row.id, { statuses: ['creating'] }, { status: 'available', provider_location: providerLocation });
    } catch {
      await this.repo.transition(row.id, { statuses: ['creating'] }, { status: 'error' });
    }
    return (await this.repo.getVolume(row.id)) ?? row;
  }

  async update(caller: Caller, id: string, fields: { name?: string | null; description?: string | null; metadata?: Record<string, string> }): Promise<VolumeRow> {
    await this.get(caller, id);
    const set: Partial<VolumeRow> = {};
    if (fields.name !== undefined) set.name = fields.name;
    if (fields.description !== undefined) set.description = fields.description;
    if (fields.metadata !== undefined) set.metadata = JSON.stringify(fields.metadata);
    if (Object.keys(set).length > 0) await this.repo.updateVolume(id, set);
    return this.get(caller, id);
  }

  /**
   * Delete: one conditional UPDATE to `deleting` (status deletable unless `force`, not attached,
   * no snapshots unless `cascade`, which deletes them first), then the backend, then the row
   * with its quota.
   */
  async delete(caller: Caller, id: string, opts: { cascade?: boolean; force?: boolean } = {}): Promise<void> {
    const v = await this.get(caller, id);
    const statuses = opts.force ? null : DELETABLE;
    const snaps = await this.snapshots.ofVolume(id);
    if (opts.cascade && !opts.force && snaps.some((x) => !['available', 'error', 'deleting'].includes(x.status))) {
      throw new HitchError('HITCH_INVALID_VOLUME', { reason: `Volume ${statuses ? `status must be ${statuses.join(' or ')} and ` : ''}${DELETE_REFUSED}` });
    }
    if (!(await this.repo.beginDelete(id, statuses, { allowSnapshots: opts.cascade === true }))) {
      throw new HitchError('HITCH_INVALID_VOLUME', { reason: `Volume ${statuses ? `status must be ${statuses.join(' or ')} and ` : ''}${DELETE_REFUSED}` });
    }
    try {
      for (const snap of opts.cascade ? snaps : []) {
        await this.snapshots.finishDelete({ ...snap, status: 'deleting' } satisfies SnapshotRow);
      }
      if ((await this.snapshots.ofVolume(id)).length > 0) {
        // A snapshot the backend would not delete stays, and so does its volume.
        await this.repo.transition(id, { statuses: ['deleting'] }, { status: 'error_deleting' });
        return;
      }
    } catch (e) {
      // The database failed us (a full disk, a lock): never left `deleting`, which nothing retries.
      await this.#endFailedDelete(id);
      throw e;
    }
    await this.finishDelete(v);
  }

  /**
   * Backend, then the row and its quota (a volume already `deleting`). Whatever fails leaves the
   * volume `error_deleting`, from which a delete may be tried again, never `deleting`.
   */
  async finishDelete(v: VolumeRow): Promise<void> {
    const failed = (): Promise<void> => this.#endFailedDelete(v.id);
    let type: Awaited<ReturnType<typeof this.types.byId>>;
    try {
      type = await this.types.byId(v.volume_type_id);
      await this.backend.deleteVolume(backendView(v));
    } catch {
      await failed();
      return;
    }
    try {
      await this.repo.tx(async (trx) => {
        if (await this.repo.deleteVolumeRow(v.id, trx)) await this.quotas.consume(trx, v.project_id, volumeDeltas(v.size, type?.name ?? v.volume_type_id, -1));
      });
    } catch (e) {
      await failed();
      throw e;
    }
  }

  list(filter: VolumeFilter, sort: readonly SortSpec[], limit: number | undefined, marker: VolumeRow | undefined): Promise<VolumeRow[]> {
    return this.repo.listVolumes(filter, sort, limit, marker);
  }

  async setMetadata(caller: Caller, id: string, metadata: Record<string, string>, replace: boolean): Promise<Record<string, string>> {
    const v = await this.get(caller, id);
    const merged = replace ? { ...metadata } : { ...(JSON.parse(v.metadata) as Record<string, string>), ...metadata };
    await this.repo.updateVolume(id, { metadata: JSON.stringify(merged) });
    return merged;
  }

  async deleteMetadataKey(caller: Caller, id: string, key: string): Promise<void> {
    const v = await this.get(caller, id);
    const md = JSON.parse(v.metadata) as Record<string, string>;
    if (!(key in md)) {
      throw new HitchError('HITCH_NOT_FOUND', { kind: 'Metadata', id: key }, { message: `Volume ${id} has no metadata with key ${key}.` });
    }
    delete md[key];
    await this.repo.updateVolume(id, { metadata: JSON.stringify(md) });
  }

  // --- legacy actions (Nova's pre-3.27 flow) ----------------------------------------------

  /** os-reserve: available (or in-use, multiattach) → attaching. */
  async reserve(caller: Caller, id: string): Promise<void> {
    const v = await this.get(caller, id);
    const guard: StatusGuard = { statuses: ['available'], multiattachStatuses: ['in-use'] };
    if (!(await this.repo.transition(id, guard, { status: 'attaching' }))) {
      const now = (await this.repo.getVolume(id)) ?? v;
      const expected = v.multiattach ? ['available', 'in-use'] : ['available'];
      throw conflict(now, expected, `Volume status must be ${expected.join(' or ')} to reserve, but the status is ${now.status}.`);
    }
  }

  /** os-unreserve: attaching → in-use (other attachments) or available. */
  async unreserve(caller: Caller, id: string): Promise<void> {
    await this.get(caller, id);
    await this.repo.settleAfterDetach(id, { statuses: ['attaching', 'reserved'] });
  }

  async initializeConnection(caller: Caller, id: string, connector: ConnectorProperties): Promise<ConnectionInfo> {
    const v = await this.get(caller, id);
    if (v.status === 'maintenance' || v.status === 'creating' || v.status === 'deleting' || v.status === 'error') {
      throw new HitchError('HITCH_INVALID_VOLUME', { reason: `Volume ${id} status must not be ${v.status}` });
    }
    // What the answer needs from the database is read before the export is made: a read that
    // fails after it (a lock, an I/O error) would leave an export nobody knows to remove.
    // Cinder's access mode: the mode the volume is attached in, else ro when it is read-only.
    const attached = (await this.repo.attachmentsOfVolume(id)).find((x) => x.attach_status === 'attached');
    const mode = attached?.attach_mode ?? (isReadonly(v) ? 'ro' : 'rw');
    const accessMode = mode === 'ro' ? 'ro' : 'rw';
    const extra = { access_mode: accessMode, qos_specs: await this.types.qosForConnection(v.volume_type_id) } as const;
    let info: ConnectionInfo;
    try {
      info = await this.backend.initializeConnection(backendView(v), connector);
    } catch (e) {
      if (e instanceof HitchError && e.status < 500) throw e;
      throw new HitchError('HITCH_INVALID_VOLUME', { reason: `Unable to initialize the connection: ${(e as Error).message}` }, { cause: e });
    }
    // One branch per protocol: a spread over the union would lose which `data` goes with which tag.
    if (info.driver_volume_type === 'nvmeof') return { ...info, data: { ...info.data, ...extra } };
    return { ...info, data: { ...info.data, ...extra } };
  }

  async terminateConnection(caller: Caller, id: string, connector: ConnectorProperties | null): Promise<void> {
    const v = await this.get(caller, id);
    if (await this.#exportShared(v, connector)) return;
    await this.backend.terminateConnection(backendView(v), connector);
  }

  /**
   * Whether a multiattach volume's export to this connector's initiator must stay because another
   * of its attachments is on the same host (as Cinder's LVM driver decides in
   * `terminate_connection`: more than one attachment with that initiator). Revoking it would cut
   * the host's one connection from under the servers there that still use the volume.
   */
  async #exportShared(v: VolumeRow, connector: ConnectorProperties | null): Promise<boolean> {
    const initiator = connector?.initiator;
    if (v.multiattach !== 1 || typeof initiator !== 'string') return false;
    let same = 0;
    for (const a of await this.repo.attachmentsOfVolume(v.id)) {
      if (a.connector === null) continue;
      const c = parseConnector(JSON.parse(a.connector));
      if (c.initiator === initiator) same++;
    }
    return same > 1;
  }

  /**
   * os-attach: available, reserved or attaching (or in-use, multiattach) → in-use, with an
   * attachment record — the legacy flow with or without os-reserve first, as Cinder allows it.
   * A read-only volume attaches only `ro`; the same instance attaching again changes nothing.
   */
  async attach(caller: Caller, id: string, a: { instanceUuid: string | null; hostName: string | null; mountpoint: string; mode: string }): Promise<void> {
    const v = await this.get(caller, id);
    if (v.status === 'maintenance') throw new HitchError('HITCH_INVALID_VOLUME', { reason: 'The volume cannot be attached in maintenance mode.' });
    if (isReadonly(v) && a.mode !== 'ro') {
      throw new HitchError('HITCH_INVALID_INPUT', { reason: 'mode' }, { message: `Invalid attaching mode '${a.mode}' for volume ${id}.` });
    }
    const now = cinderTime();
    await this.repo.tx(async (trx) => {
      const mine = (await this.repo.attachmentsOfVolume(id, trx)).find((x) => x.attach_status === 'attached' && (a.instanceUuid !== null ? x.instance_uuid === a.instanceUuid : x.attached_host === a.hostName));
      if (mine) return;
      const won = await this.repo.transition(id, { statuses: ['available', 'attaching', 'reserved'], multiattachStatuses: ['in-use'] }, { status: 'in-use', attach_status: 'attached' }, trx);
      if (!won) {
        const cur = (await this.repo.getVolume(id, trx)) ?? v;
        if (cur.status === 'in-use') throw conflict(cur, ['available'], 'volume is already attached and multiple attachments are not enabled');
        throw conflict(cur, ['available', 'attaching', 'reserved']);
      }
      await this.repo.insertAttachment(
        {
          id: randomUUID(), volume_id: id, project_id: v.project_id, instance_uuid: a.instanceUuid, attached_host: a.hostName,
          mountpoint: a.mountpoint, attach_status: 'attached', attach_mode: a.mode, connector: null, connection_info: null,
          attach_time: now, detach_time: null, created_at: now, updated_at: now,
        },
        trx,
      );
    });
  }

  /** os-begin_detaching: in-use → detaching. */
  async beginDetaching(caller: Caller, id: string): Promise<void> {
    // As in completeAttachment: the admin caller's volume is read only to explain a refusal.
    if (!caller.isAdmin) await this.get(caller, id);
    if (!(await this.repo.transition(id, { statuses: ['in-use'] }, { status: 'detaching' }))) {
      const cur = await this.repo.getVolume(id);
      if (!cur) throw notFound(id);
      throw conflict(cur, ['in-use'], "Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.");
    }
  }

  /** os-roll_detaching: detaching → in-use; a no-op otherwise, as in Cinder. */
  async rollDetaching(caller: Caller, id: string): Promise<void> {
    await this.get(caller, id);
    await this.repo.transition(id, { statuses: ['detaching'] }, { status: 'in-use' });
  }

  /** os-detach: drop the attachment; the volume settles to in-use or available. */
  async detach(caller: Caller, id: string, attachmentId: string | null, force = false): Promise<void> {
    const v = await this.get(caller, id);
    const atts = await this.repo.attachmentsOfVolume(id);
    let target: AttachmentRow | undefined;
    if (attachmentId) {
      target = atts.find((a) => a.id === attachmentId);
      if (!target) throw attachmentNotFound(attachmentId);
    } else if (atts.length === 1) {
      target = atts[0];
    } else if (atts.length > 1) {
      throw new HitchError('HITCH_INVALID_VOLUME', { reason: 'Detach volume failed: More than one attachment, but no attachment_id provided.' });
    }
    const from = force ? [v.status] : ['detaching', 'in-use', 'attaching', 'error_detaching', 'error_attaching'];
    await this.repo.tx(async (trx) => {
      if (target) await this.repo.deleteAttachment(target.id, trx);
      if (!(await this.repo.settleAfterDetach(id, { statuses: from }, trx))) {
        throw conflict((await this.repo.getVolume(id, trx)) ?? v, ['detaching', 'in-use']);
      }
    });
  }

  /** Admin os-force_detach: revoke the export and drop the attachment whatever the status. */
  async forceDetach(caller: Caller, id: string, attachmentId: string | null, connector: ConnectorProperties | null): Promise<void> {
    const v = await this.get(caller, id);
    await this.backend.terminateConnection(backendView(v), connector);
    await this.detach(caller, id, attachmentId, true);
  }

  /** Admin os-reset_status. */
  async resetStatus(caller: Caller, id: string, s: { status?: string; attachStatus?: string; migrationStatus?: string }): Promise<void> {
    await this.get(caller, id);
    const set: Partial<VolumeRow> = {};
    if (s.status !== undefined) set.status = s.status;
    if (s.attachStatus !== undefined) set.attach_status = s.attachStatus;
    if (s.migrationStatus !== undefined) set.migration_status = s.migrationStatus === 'none' ? null : s.migrationStatus;
    await this.repo.updateVolume(id, set);
  }

  // --- attachments API (3.27+) --------------------------------------------------------------

  async getAttachment(caller: Caller, id: string): Promise<AttachmentRow> {
    const a = await this.repo.getAttachment(id);
    if (!a || (!caller.isAdmin && a.project_id !== caller.projectId)) throw attachmentNotFound(id);
    return a;
  }

  /** Reserve the volume for an instance; with a connector, also export it (→ attaching). */
  async createAttachment(caller: Caller, input: { volumeId: string; instanceUuid: string | null; connector: ConnectorProperties | null; mode: 'rw' | 'ro' | null }): Promise<AttachmentRow> {
    const v = await this.get(caller, input.volumeId);
    if (v.status.includes('error')) {
      throw new HitchError('HITCH_INVALID_VOLUME', { reason: 'error' }, {
        message: `Volume attachments can not be created if the volume is in an error state. The Volume ${v.id} currently has a status of: ${v.status} `,
      });
    }
    const now = cinderTime();
    const id = randomUUID();
    // A read-only volume's attachments are read-only whatever was asked (Cinder's admin metadata wins).
    const mode = isReadonly(v) ? 'ro' : (input.mode ?? 'rw');
    const row: AttachmentRow = {
      id, volume_id: v.id, project_id: v.project_id, instance_uuid: input.instanceUuid, attached_host: null, mountpoint: null,
      attach_status: 'reserved', attach_mode: mode, connector: null, connection_info: null,
      attach_time: null, detach_time: null, created_at: now, updated_at: now,
    };
    await this.repo.tx(async (trx) => {
      const won = await this.repo.transition(v.id, { statuses: ['available', 'downloading'], multiattachStatuses: ['in-use', 'reserved', 'attaching'] }, { status: 'reserved' }, trx);
      if (!won) {
        // Cinder lets the same instance re-reserve a volume it already holds.
        const atts = await this.repo.attachmentsOfVolume(v.id, trx);
        const cur = (await this.repo.getVolume(v.id, trx)) ?? v;
        const mine = input.instanceUuid !== null && ['in-use', 'reserved'].includes(cur.status) && atts.some((a) => a.instance_uuid === input.instanceUuid);
        const expected = v.multiattach ? ['available', 'in-use', 'downloading'] : ['available', 'downloading'];
        if (!mine) throw conflict(cur, expected, `Volume ${v.id} status must be ${expected.join(' or ')} to reserve, but the current status is ${cur.status}.`);
      }
      await this.repo.insertAttachment(row, trx);
    });
    // The row as written: no need to read it back.
    if (input.connector) return this.updateAttachment(caller, id, input.connector, row);
    return row;
  }

  /** Export to the connector's host; the attachment and volume move to attaching. */
  async updateAttachment(caller: Caller, id: string, connector: ConnectorProperties, known?: AttachmentRow): Promise<AttachmentRow> {
    const a = known ?? (await this.getAttachment(caller, id));
    const v = await this.get(caller, a.volume_id);
    // Read before the export is made (a read failing after it would leave the export behind).
    const qos = await this.types.qosForConnection(v.volume_type_id);
    let info: ConnectionInfo;
    try {
      info = await this.backend.initializeConnection(backendView(v), connector);
    } catch (e) {
      await this.repo.updateAttachment(id, ['reserved', 'attaching'], { attach_status: 'error_attaching' });
      await this.repo.transition(v.id, { statuses: ['reserved', 'attaching'] }, { status: 'error_attaching' });
      if (e instanceof HitchError && e.status < 500) throw e;
      throw new HitchError('HITCH_INVALID_VOLUME', { reason: `Unable to update the attachment: ${(e as Error).message}` }, { cause: e });
    }
    const connectionInfo = { ...info, data: { ...info.data, access_mode: a.attach_mode, qos_specs: qos } };
    const set = {
      connector: JSON.stringify(connector),
      connection_info: JSON.stringify(connectionInfo),
      attached_host: typeof connector.host === 'string' ? connector.host : null,
      mountpoint: typeof connector.mountpoint === 'string' ? connector.mountpoint : a.mountpoint,
      updated_at: cinderTime(),
    } satisfies Partial<AttachmentRow>;
    const { ok, moved } = await this.repo
      .tx(async (trx) => {
        const moved = await this.repo.updateAttachment(id, ['reserved', 'attaching'], { ...set, attach_status: 'attaching' }, trx);
        // A refresh of an attached attachment keeps it attached.
        const refreshed = moved || (await this.repo.updateAttachment(id, ['attached'], set, trx));
        if (moved) await this.repo.transition(v.id, { statuses: ['reserved'] }, { status: 'attaching' }, trx);
        return { ok: refreshed, moved };
      })
      .catch(async (e: unknown) => {
        // The export exists but the attachment does not name its connector (a full disk, a lock):
        // deleting the attachment could not find it, so it goes now.
        if (!(await this.#exportShared(v, connector).catch(() => false))) await this.backend.terminateConnection(backendView(v), connector).catch(() => undefined);
        throw e;
      });
    if (!ok) {
      await this.backend.terminateConnection(backendView(v), connector);
      const cur = (await this.repo.getAttachment(id)) ?? a;
      throw new HitchError('HITCH_CONFLICT', { reason: '' }, { message: `Invalid volume: Attachment ${id} status must be reserved or attaching, but is ${cur.attach_status}.` });
    }
    // What the update wrote over what was read: an attachment's other fields never change after
    // it is created, and its status is the one the conditional update moved it from or kept.
    return { ...a, ...set, attach_status: moved ? 'attaching' : 'attached' };
  }

  /** os-complete: the attachment is attached; the volume is in-use. */
  async completeAttachment(caller: Caller, id: string): Promise<void> {
    // A project's caller may complete only its own attachments, so it is read first. For the
    // service's own (admin) caller the conditional update finds it, and it is read only to
    // explain a refusal. The attachment carries its volume's project, so the check covers the
    // volume too.
    if (!caller.isAdmin) await this.getAttachment(caller, id);
    await this.repo.tx(async (trx) => {
      const volumeId = await this.repo.completeAttachment(id, ['reserved', 'attaching', 'attached'], cinderTime(), trx);
      if (volumeId === null) {
        const a = await this.repo.getAttachment(id, trx);
        if (!a) throw attachmentNotFound(id);
        throw new HitchError('HITCH_CONFLICT', { reason: '' }, { message: `Invalid volume: Attachment ${id} cannot be completed from ${a.attach_status}.` });
      }
      const won = await this.repo.transition(volumeId, { statuses: ['reserved', 'attaching', 'in-use'] }, { status: 'in-use', attach_status: 'attached' }, trx);
      if (!won) {
        const cur = await this.repo.getVolume(volumeId, trx);
        if (!cur) throw notFound(volumeId);
        throw conflict(cur, ['reserved', 'attaching', 'in-use']);
      }
    });
  }

  /**
   * Remove the attachment and its export; returns the volume's remaining attachments (what the
   * REST API answers), unless `remaining` is false (a caller that does not want them).
   */
  async deleteAttachment(caller: Caller, id: string, opts: { remaining?: boolean } = {}): Promise<AttachmentRow[]> {
    const a = await this.getAttachment(caller, id);
    const v = await this.get(caller, a.volume_id);
    if (a.connector !== null) {
      const connector = parseConnector(JSON.parse(a.connector));
      if (!(await this.#exportShared(v, connector))) await this.backend.terminateConnection(backendView(v), connector);
    }
    await this.repo.tx(async (trx) => {
      if (!(await this.repo.deleteAttachment(id, trx))) throw attachmentNotFound(id);
      await this.repo.settleAfterDetach(v.id, { statuses: ['reserved', 'attaching', 'in-use', 'detaching', 'error_attaching', 'error_detaching'] }, trx);
    });
    return opts.remaining === false ? [] : this.repo.attachmentsOfVolume(v.id);
  }

  listAttachments(caller: Caller, f: { allTenants: boolean; volumeId?: string; instanceId?: string; status?: string }, limit?: number, marker?: AttachmentRow): Promise<AttachmentRow[]> {
    return this.repo.listAttachments(
      {
        projectId: caller.isAdmin && f.allTenants ? null : caller.projectId,
        volumeId: f.volumeId,
        instanceId: f.instanceId,
        status: f.status,
      },
      limit,
      marker,
    );
  }
}
