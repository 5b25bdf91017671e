/**
 * Snapshots, as Cinder keeps them: `creating` → `available` (or `error`), `deleting` → gone (or
 * `error_deleting`). A snapshot is made of an `available` volume, or of an `in-use` one with
 * `force` (from 3.66 without it); its quota (snapshots, and its size in gigabytes) is taken with
 * its row, in one transaction. The backend is called outside transactions; the status write that
 * follows it records how the call went.
 */
import { randomUUID } from 'node:crypto';
import type { Expression, Kysely, SqlBool } from 'kysely';
import type { Database, SnapshotTable } from '../db/schema.ts';
import { HitchError } from '../errors.ts';
import type { BackendSnapshot, VolumeBackend } from '../ports/volume-backend.ts';
import { snapshotDeltas, type QuotaService } from './quota-service.ts';
import type { VolumeTypeService } from './type-service.ts';
import { cinderTime, type VolumeRow } from './volume-repo.ts';

export type SnapshotRow = SnapshotTable;

/** Statuses `os-reset_status` accepts for a snapshot (Cinder's SnapshotStatus). */
export const SNAPSHOT_STATUSES = ['error', 'available', 'creating', 'deleting', 'deleted', 'updating', 'error_deleting', 'unmanaging', 'backing-up', 'restoring'] as const;

export interface SnapshotCaller {
  readonly userId: string;
  readonly projectId: string;
  readonly isAdmin: boolean;
}

export interface SnapshotFilter {
  /** Null: every project (admin `all_tenants`). */
  readonly projectId: string | null;
  readonly name?: string;
  readonly status?: string;
  readonly volumeId?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export type SnapshotSortKey = 'id' | 'name' | 'status' | 'size' | 'created_at' | 'updated_at' | 'volume_id';
export const SNAPSHOT_SORT_KEYS: readonly SnapshotSortKey[] = ['id', 'name', 'status', 'size', 'created_at', 'updated_at', 'volume_id'];

export function snapshotNotFound(id: string): HitchError {
  return new HitchError('HITCH_NOT_FOUND', { kind: 'Snapshot', id }, { message: `Snapshot ${id} could not be found.` });
}

function invalidSnapshot(reason: string): HitchError {
  return new HitchError('HITCH_INVALID_SNAPSHOT', { reason });
}

export function backendSnapshot(s: SnapshotRow): BackendSnapshot {
  return { id: s.id, size: s.size, volumeId: s.volume_id, providerLocation: s.provider_location };
}

export class SnapshotService {
  readonly #db: Kysely<Database>;
  readonly #backend: VolumeBackend;
  readonly #quotas: QuotaService;
  readonly #types: VolumeTypeService;
  /** The volume the caller may see, or 404 (the volume service's own lookup). */
  readonly #volume: (caller: SnapshotCaller, id: string) => Promise<VolumeRow>;

  constructor(opts: { db: Kysely<Database>; backend: VolumeBackend; quotas: QuotaService; types: VolumeTypeService; volume: (caller: SnapshotCaller, id: string) => Promise<VolumeRow> }) {
    this.#db = opts.db;
    this.#backend = opts.backend;
    this.#quotas = opts.quotas;
    this.#types = opts.types;
    this.#volume = opts.volume;
  }

  async #row(id: string): Promise<SnapshotRow | undefined> {
    return this.#db.selectFrom('snapshots').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** A snapshot the caller may see, or 404. */
  async get(caller: SnapshotCaller, id: string): Promise<SnapshotRow> {
    const s = await this.#row(id);
    if (!s || (!caller.isAdmin && s.project_id !== caller.projectId)) throw snapshotNotFound(id);
    return s;
  }

  async #typeName(typeId: string): Promise<string> {
    return (await this.#types.byId(typeId))?.name ?? typeId;
  }

  /**
   * Create a snapshot of the caller's volume: `available`, or `in-use` when `allowInUse` (force,
   * or 3.66). The row and its quota go in together; then the backend copies the data.
   */
  async create(caller: SnapshotCaller, input: { volumeId: string; name: string | null; description: string | null; metadata: Readonly<Record<string, string>> | null; allowInUse: boolean }): Promise<SnapshotRow> {
    const v = await this.#volume(caller, input.volumeId);
    if (v.status === 'maintenance') throw new HitchError('HITCH_INVALID_VOLUME', { reason: 'The snapshot cannot be created when the volume is in maintenance mode.' });
    const valid = input.allowInUse ? ['available', 'in-use'] : ['available'];
    const refuse = (status: string): HitchError =>
      new HitchError('HITCH_INVALID_VOLUME', { reason: `Volume ${v.id} status must be ${valid.join(', ')}, but current status is: ${status}.` });
    if (!valid.includes(v.status)) throw refuse(v.status);
    const now = cinderTime();
    const row: SnapshotRow = {
      id: randomUUID(),
      volume_id: v.id,
      project_id: caller.projectId,
      user_id: caller.userId,
      name: input.name,
      description: input.description,
      size: v.size,
      status: 'creating',
      progress: '0%',
      volume_type_id: v.volume_type_id,
      metadata: JSON.stringify(input.metadata ?? {}),
      provider_location: null,
      created_at: now,
      updated_at: now,
    };
    const typeName = await this.#typeName(v.volume_type_id);
    await this.#db.transaction().execute(async (trx) => {
      await this.#quotas.consume(trx, caller.projectId, snapshotDeltas(v.size, typeName));
      // The volume may have moved on since it was read: its status is checked with the insert.
      const still = await trx.selectFrom('volumes').select('status').where('id', '=', v.id).executeTakeFirst();
      if (!still || !valid.includes(still.status)) throw refuse(still?.status ?? 'deleted');
      await trx.insertInto('snapshots').values(row).execute();
    });
    try {
      const { providerLocation } = await this.#backend.createSnapshot({ id: row.id, size: row.size }, { id: v.id, size: v.size, providerLocation: v.provider_location });
      await this.#transition(row.id, ['creating'], { status: 'available', progress: '100%', provider_location: providerLocation });
    } catch {
      await this.#transition(row.id, ['creating'], { status: 'error' });
    }
    return (await this.#row(row.id)) ?? row;
  }

  async update(caller: SnapshotCaller, id: string, fields: { name?: string | null; description?: string | null }): Promise<SnapshotRow> {
    await this.get(caller, id);
    const set: Partial<SnapshotRow> = { updated_at: cinderTime() };
    if (fields.name !== undefined) set.name = fields.name;
    if (fields.description !== undefined) set.description = fields.description;
    await this.#db.updateTable('snapshots').set(set).where('id', '=', id).execute();
    return this.get(caller, id);
  }

  /**
   * Delete: `available` or `error` → `deleting` (one conditional UPDATE), the backend's copy
   * goes, then the row with its quota. `force` (admin `os-force_delete`): from any status.
   */
  async delete(caller: SnapshotCaller, id: string, force = false): Promise<void> {
    const s = await this.get(caller, id);
    if (!(await this.#transition(id, force ? null : ['available', 'error'], { status: 'deleting' }))) {
      throw invalidSnapshot('Snapshot status must be available or error and must not be part of a group.');
    }
    await this.finishDelete(s);
  }

  /** The backend's copy, then the row and its quota (a snapshot already marked `deleting`). */
  async finishDelete(s: SnapshotRow): Promise<void> {
    try {
      await this.#backend.deleteSnapshot(backendSnapshot(s));
    } catch {
      await this.#transition(s.id, ['deleting'], { status: 'error_deleting' });
      return;
    }
    const typeName = await this.#typeName(s.volume_type_id);
    await this.#db.transaction().execute(async (trx) => {
      const gone = await trx.deleteFrom('snapshots').where('id', '=', s.id).executeTakeFirst();
      if (Number(gone.numDeletedRows) > 0) await this.#quotas.consume(trx, s.project_id, snapshotDeltas(s.size, typeName, -1));
    });
  }

  /** Admin `os-reset_status`: set the status, whatever it was. */
  async resetStatus(caller: SnapshotCaller, id: string, status: string): Promise<void> {
    await this.get(caller, id);
    await this.#db.updateTable('snapshots').set({ status, updated_at: cinderTime() }).where('id', '=', id).execute();
  }

  async setMetadata(caller: SnapshotCaller, id: string, metadata: Readonly<Record<string, string>>, replace: boolean): Promise<Record<string, string>> {
    const s = await this.get(caller, id);
    const merged = replace ? { ...metadata } : { ...(JSON.parse(s.metadata) as Record<string, string>), ...metadata };
    await this.#db.updateTable('snapshots').set({ metadata: JSON.stringify(merged), updated_at: cinderTime() }).where('id', '=', id).execute();
    return merged;
  }

  async deleteMetadataKey(caller: SnapshotCaller, id: string, key: string): Promise<void> {
    const s = await this.get(caller, id);
    const md = JSON.parse(s.metadata) as Record<string, string>;
    if (!(key in md)) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Metadata', id: key }, { message: `Metadata item was not found` });
    delete md[key];
    await this.#db.updateTable('snapshots').set({ metadata: JSON.stringify(md), updated_at: cinderTime() }).where('id', '=', id).execute();
  }

  /** Snapshots of one volume (delete with `cascade`, transfers). */
  ofVolume(volumeId: string): Promise<SnapshotRow[]> {
    return this.#db.selectFrom('snapshots').selectAll().where('volume_id', '=', volumeId).orderBy('created_at').orderBy('id').execute();
  }

  async list(filter: SnapshotFilter, sort: ReadonlyArray<{ key: SnapshotSortKey; dir: 'asc' | 'desc' }>, limit: number | undefined, marker: SnapshotRow | undefined): Promise<SnapshotRow[]> {
    let q = this.#db.selectFrom('snapshots').selectAll();
    if (filter.projectId !== null) q = q.where('project_id', '=', filter.projectId);
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.status !== undefined) q = q.where('status', '=', filter.status);
    if (filter.volumeId !== undefined) q = q.where('volume_id', '=', filter.volumeId);
    const keys = [...sort];
    if (!keys.some((k) => k.key === 'id')) keys.push({ key: 'id', dir: keys[keys.length - 1]?.dir ?? 'desc' });
    if (marker) {
      q = q.where((eb) => {
        const ors: Expression<SqlBool>[] = [];
        for (let i = 0; i < keys.length; i++) {
          const ands: Expression<SqlBool>[] = [];
          for (let j = 0; j < i; j++) {
            const k = keys[j]!;
            const mv = marker[k.key];
            ands.push(mv === null ? eb(k.key, 'is', null) : eb(k.key, '=', mv));
          }
          const k = keys[i]!;
          const v = marker[k.key];
          if (v === null) {
            if (k.dir === 'asc') ands.push(eb(k.key, 'is not', null));
            else continue;
          } else {
            ands.push(eb(k.key, k.dir === 'asc' ? '>' : '<', v));
          }
          ors.push(eb.and(ands));
        }
        return eb.or(ors);
      });
    }
    for (const k of keys) q = q.orderBy(k.key, (ob) => (k.dir === 'asc' ? ob.asc().nullsFirst() : ob.desc().nullsLast()));
    const byMetadata = filter.metadata !== undefined && Object.keys(filter.metadata).length > 0;
    if (limit !== undefined && !byMetadata) q = q.limit(limit);
    let rows = await q.execute();
    if (byMetadata && filter.metadata) {
      const want = Object.entries(filter.metadata);
      rows = rows.filter((r) => {
        const md = JSON.parse(r.metadata) as Record<string, string>;
        return want.every(([k, v]) => md[k] === v);
      });
    }
    return limit === undefined ? rows : rows.slice(0, limit);
  }

  /** One conditional UPDATE; `from` null: whatever the status. True when it moved. */
  async #transition(id: string, from: readonly string[] | null, set: Partial<SnapshotRow>): Promise<boolean> {
    let q = this.#db.updateTable('snapshots').set({ ...set, updated_at: cinderTime() }).where('id', '=', id);
    if (from !== null) q = q.where('status', 'in', [...from]);
    return Number((await q.executeTakeFirst()).numUpdatedRows) > 0;
  }
}
