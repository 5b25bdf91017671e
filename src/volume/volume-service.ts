/**
 * The block storage service: volumes, their status machine, attachments and exports.
 *
 *   available → reserved → attaching → in-use → detaching → available
 *                        (error_attaching when the backend fails to export)
 *
 * Every transition is one conditional UPDATE in VolumeRepo; a loser gets a 409 and nothing
 * changes. The backend is called outside database transactions and undone when the status
 * write that follows it loses.
 */
import { randomUUID } from 'node:crypto';
import { HitchError, ref } from '../errors.ts';
import type { BackendVolume, VolumeBackend } from '../ports/volume-backend.ts';
import type { ConnectionInfo, ConnectorProperties } from '../ports/attach.ts';
import { parseConnector } from './connector.ts';
import { cinderTime, VolumeRepo, type AttachmentRow, type SortSpec, type StatusGuard, type VolumeFilter, type VolumeRow } from './volume-repo.ts';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

/** The caller, as the API layer resolved it from the token. */
export interface Caller {
  readonly userId: string;
  readonly projectId: string;
  readonly isAdmin: boolean;
}

export interface CreateVolumeInput {
  readonly size: number;
  readonly name?: string | null;
  readonly description?: string | null;
  readonly volumeType?: string | null;
  readonly availabilityZone?: string | null;
  readonly metadata?: Readonly<Record<string, string>> | null;
  readonly multiattach?: boolean;
}

export const AVAILABILITY_ZONE = 'nova';

/** Statuses from which a volume may be deleted (Cinder's list). */
const DELETABLE = ['available', 'error', 'error_restoring', 'error_extending', 'error_managing'];
/** Statuses `os-reset_status` accepts (Cinder's). */
export const RESETTABLE_STATUSES = ['available', 'error', 'creating', 'deleting', 'in-use', 'attaching', 'detaching', 'error_deleting', 'maintenance', 'reserved', 'error_attaching', 'error_detaching', 'error_extending', 'downloading', 'uploading', 'retyping', 'extending', 'backing-up', 'restoring-backup', 'error_restoring', 'error_managing'];

export function notFound(id: string): HitchError {
  return new HitchError('HITCH_NOT_FOUND', { kind: 'Volume', id }, { message: `Volume ${id} could not be found.` });
}

function attachmentNotFound(id: string): HitchError {
  return new HitchError('HITCH_NOT_FOUND', { kind: 'VolumeAttachment', id }, { message: `VolumeAttachment ${id} could not be found.` });
}

function conflict(v: VolumeRow, expected: readonly string[]): HitchError {
  return new HitchError('HITCH_VOLUME_STATUS_CONFLICT', { volume: ref(v), expected: expected.join(' or '), current: v.status });
}

function backendView(v: VolumeRow): BackendVolume {
  return { id: v.id, size: v.size, providerLocation: v.provider_location };
}

export interface VolumeServiceOptions {
  /**
   * The largest volume one may ask for, GiB (config `maxVolumeSizeGiB`): the one limit the API,
   * the CLI (which leaves it to the API) and the dashboard (which reads it from the page) share.
   */
  readonly maxSizeGiB?: number;
}

/** The default of `maxVolumeSizeGiB`: 16 TiB. */
export const MAX_VOLUME_SIZE_GIB = 16_384;

export class VolumeService {
  readonly repo: VolumeRepo;
  readonly backend: VolumeBackend;
  readonly maxSizeGiB: number;

  constructor(db: Kysely<Database>, backend: VolumeBackend, opts: VolumeServiceOptions = {}) {
    this.repo = new VolumeRepo(db);
    this.backend = backend;
    this.maxSizeGiB = opts.maxSizeGiB ?? MAX_VOLUME_SIZE_GIB;
  }

  /** Refuse a size over the limit, as Cinder's VolumeSizeExceedsLimit does (413). */
  checkSize(size: number): void {
    if (size > this.maxSizeGiB) throw new HitchError('HITCH_VOLUME_TOO_LARGE', { size, max: this.maxSizeGiB });
  }

  async init(): Promise<void> {
    await this.repo.ensureDefaultTypes();
  }

  /** A volume the caller may see, or 404 (another project's volume is simply not there). */
  async get(caller: Caller, id: string): Promise<VolumeRow> {
    const v = await this.repo.getVolume(id);
    if (!v || (!caller.isAdmin && v.project_id !== caller.projectId)) throw notFound(id);
    return v;
  }

  async create(caller: Caller, input: CreateVolumeInput): Promise<VolumeRow> {
    this.checkSize(input.size);
    const typeName = input.volumeType ?? '__DEFAULT__';
    const type = await this.repo.findType(typeName);
    if (!type) {
      throw new HitchError('HITCH_NOT_FOUND', { kind: 'Volume type', id: typeName }, { message: `Volume type with name ${typeName} could not be found.` });
    }
    const az = input.availabilityZone ?? AVAILABILITY_ZONE;
    if (az !== AVAILABILITY_ZONE) throw new HitchError('HITCH_INVALID_INPUT', { reason: `Availability zone '${az}' is invalid.` });
    const specs = JSON.parse(type.extra_specs) as Record<string, string>;
    const multiattach = input.multiattach === true || specs.multiattach === '<is> True';
    const now = cinderTime();
    const row: VolumeRow = {
      id: randomUUID(),
      project_id: caller.projectId,
      user_id: caller.userId,
      name: input.name ?? null,
      description: input.description ?? null,
      size: input.size,
      status: 'creating',
      attach_status: 'detached',
      migration_status: null,
      multiattach: multiattach ? 1 : 0,
      bootable: 0,
      volume_type_id: type.id,
      availability_zone: az,
      host: this.backend.host,
      provider_location: null,
      metadata: JSON.stringify(input.metadata ?? {}),
      created_at: now,
      updated_at: now,
    };
    await this.repo.insertVolume(row);
    try {
      const { providerLocation } = await this.backend.createVolume({ id: row.id, size: row.size });
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

  async delete(caller: Caller, id: string): Promise<void> {
    const v = await this.get(caller, id);
    if (!(await this.repo.beginDelete(id, DELETABLE))) {
      throw new HitchError('HITCH_INVALID_VOLUME', {
        reason: `Volume status must be ${DELETABLE.join(' or ')} and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.`,
      });
    }
    try {
      await this.backend.deleteVolume(backendView(v));
      await this.repo.deleteVolumeRow(id);
    } catch {
      await this.repo.transition(id, { statuses: ['deleting'] }, { status: 'error_deleting' });
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
      throw conflict(now, v.multiattach ? ['available', 'in-use'] : ['available']);
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
    try {
      return await this.backend.initializeConnection(backendView(v), connector);
    } catch (e) {
      if (e instanceof HitchError && e.status < 500) throw e;
      throw new HitchError('HITCH_INVALID_VOLUME', { reason: `Unable to initialize the connection: ${(e as Error).message}` }, { cause: e });
    }
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

  /** os-attach: attaching (or in-use, multiattach) → in-use, with an attachment record. */
  async attach(caller: Caller, id: string, a: { instanceUuid: string | null; hostName: string | null; mountpoint: string; mode: string }): Promise<void> {
    const v = await this.get(caller, id);
    const now = cinderTime();
    await this.repo.tx(async (trx) => {
      const won = await this.repo.transition(id, { statuses: ['attaching', 'reserved'], multiattachStatuses: ['in-use'] }, { status: 'in-use', attach_status: 'attached' }, trx);
      if (!won) throw conflict((await this.repo.getVolume(id, trx)) ?? v, ['attaching']);
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
      throw conflict(cur, ['in-use']);
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
    const now = cinderTime();
    const id = randomUUID();
    const row: AttachmentRow = {
      id, volume_id: v.id, project_id: v.project_id, instance_uuid: input.instanceUuid, attached_host: null, mountpoint: null,
      attach_status: 'reserved', attach_mode: input.mode ?? 'rw', connector: null, connection_info: null,
      attach_time: null, detach_time: null, created_at: now, updated_at: now,
    };
    await this.repo.tx(async (trx) => {
      const won = await this.repo.transition(v.id, { statuses: ['available', 'downloading'], multiattachStatuses: ['in-use', 'reserved', 'attaching'] }, { status: 'reserved' }, trx);
      if (!won) {
        // Cinder lets the same instance re-reserve a volume it already holds.
        const atts = await this.repo.attachmentsOfVolume(v.id, trx);
        const cur = (await this.repo.getVolume(v.id, trx)) ?? v;
        const mine = input.instanceUuid !== null && ['in-use', 'reserved'].includes(cur.status) && atts.some((a) => a.instance_uuid === input.instanceUuid);
        if (!mine) throw conflict(cur, v.multiattach ? ['available', 'in-use', 'downloading'] : ['available', 'downloading']);
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
    let info: ConnectionInfo;
    try {
      info = await this.backend.initializeConnection(backendView(v), connector);
    } catch (e) {
      await this.repo.updateAttachment(id, ['reserved', 'attaching'], { attach_status: 'error_attaching' });
      await this.repo.transition(v.id, { statuses: ['reserved', 'attaching'] }, { status: 'error_attaching' });
      if (e instanceof HitchError && e.status < 500) throw e;
      throw new HitchError('HITCH_INVALID_VOLUME', { reason: `Unable to update the attachment: ${(e as Error).message}` }, { cause: e });
    }
    const connectionInfo = { ...info, data: { ...info.data, access_mode: a.attach_mode } };
    const set = {
      connector: JSON.stringify(connector),
      connection_info: JSON.stringify(connectionInfo),
      attached_host: typeof connector.host === 'string' ? connector.host : null,
      mountpoint: typeof connector.mountpoint === 'string' ? connector.mountpoint : a.mountpoint,
      updated_at: cinderTime(),
    } satisfies Partial<AttachmentRow>;
    const { ok, moved } = await this.repo.tx(async (trx) => {
      const moved = await this.repo.updateAttachment(id, ['reserved', 'attaching'], { ...set, attach_status: 'attaching' }, trx);
      // A refresh of an attached attachment keeps it attached.
      const refreshed = moved || (await this.repo.updateAttachment(id, ['attached'], set, trx));
      if (moved) await this.repo.transition(v.id, { statuses: ['reserved'] }, { status: 'attaching' }, trx);
      return { ok: refreshed, moved };
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
