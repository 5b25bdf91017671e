/**
 * Volume and attachment queries. Every status change is ONE conditional UPDATE
 * (`… WHERE id = ? AND status IN (…)`), so two racing requests cannot both win: the database
 * decides, on SQLite and PostgreSQL alike, and the loser sees zero updated rows.
 */
import type { Expression, ExpressionBuilder, Kysely, SqlBool, Transaction } from 'kysely';
import type { AttachmentTable, Database, VolumeTable, VolumeTypeTable } from '../db/schema.ts';

export type VolumeRow = VolumeTable;
export type AttachmentRow = AttachmentTable;
export type VolumeTypeRow = VolumeTypeTable;
type Db = Kysely<Database> | Transaction<Database>;
type VEB = ExpressionBuilder<Database, 'volumes'>;

/** Cinder's timestamp format: `2026-11-25T19:00:00.123000` (UTC, microseconds, no zone). */
export function cinderTime(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000');
}

export interface VolumeFilter {
  /** Null: every project (admin `all_tenants`). */
  readonly projectId: string | null;
  readonly name?: string;
  readonly status?: string;
  readonly availabilityZone?: string;
  readonly bootable?: boolean;
  readonly metadata?: Readonly<Record<string, string>>;
}

export type SortKey = 'id' | 'name' | 'status' | 'size' | 'created_at' | 'updated_at' | 'availability_zone' | 'bootable';
export const SORT_KEYS: readonly SortKey[] = ['id', 'name', 'status', 'size', 'created_at', 'updated_at', 'availability_zone', 'bootable'];

export interface SortSpec {
  readonly key: SortKey;
  readonly dir: 'asc' | 'desc';
}

/** A status condition: the volume's status is one of `statuses`, or (multiattach) one of `multi`. */
export interface StatusGuard {
  readonly statuses: readonly string[];
  /** Extra statuses allowed when the volume is multiattach. */
  readonly multiattachStatuses?: readonly string[];
}

function guardExpr(eb: VEB, g: StatusGuard): Expression<SqlBool> {
  const parts: Expression<SqlBool>[] = [];
  if (g.statuses.length > 0) parts.push(eb('status', 'in', [...g.statuses]));
  if (g.multiattachStatuses && g.multiattachStatuses.length > 0) {
    parts.push(eb.and([eb('multiattach', '=', 1), eb('status', 'in', [...g.multiattachStatuses])]));
  }
  return parts.length === 0 ? eb.val(false).$castTo<SqlBool>() : eb.or(parts);
}

export class VolumeRepo {
  readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /** Run `fn` in one transaction. */
  tx<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(fn);
  }

  // --- volume types ---------------------------------------------------------------------

  async ensureDefaultTypes(): Promise<void> {
    const defaults: VolumeTypeRow[] = [
      { id: '5e4f1a2b-0000-4000-8000-000000000001', name: '__DEFAULT__', description: 'Default Volume Type', is_public: 1, extra_specs: '{}' },
      { id: '5e4f1a2b-0000-4000-8000-000000000002', name: 'multiattach', description: 'Volumes that several servers may attach at once', is_public: 1, extra_specs: '{"multiattach":"<is> True"}' },
    ];
    for (const t of defaults) {
      const exists = await this.db.selectFrom('volume_types').select('id').where('id', '=', t.id).executeTakeFirst();
      if (!exists) await this.db.insertInto('volume_types').values(t).execute();
    }
  }

  listTypes(): Promise<VolumeTypeRow[]> {
    return this.db.selectFrom('volume_types').selectAll().orderBy('name').execute();
  }

  /** A type by id or by name. */
  findType(idOrName: string): Promise<VolumeTypeRow | undefined> {
    return this.db
      .selectFrom('volume_types')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
      .executeTakeFirst();
  }

  // --- volumes --------------------------------------------------------------------------

  async insertVolume(row: VolumeRow): Promise<void> {
    await this.db.insertInto('volumes').values(row).execute();
  }

  getVolume(id: string, db: Db = this.db): Promise<VolumeRow | undefined> {
    return db.selectFrom('volumes').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The volumes matching `filter`, sorted, after `marker`, at most `limit`. */
  async listVolumes(filter: VolumeFilter, sort: readonly SortSpec[], limit: number | undefined, marker: VolumeRow | undefined): Promise<VolumeRow[]> {
    let q = this.db.selectFrom('volumes').selectAll();
    if (filter.projectId !== null) q = q.where('project_id', '=', filter.projectId);
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.status !== undefined) q = q.where('status', '=', filter.status);
    if (filter.availabilityZone !== undefined) q = q.where('availability_zone', '=', filter.availabilityZone);
    if (filter.bootable !== undefined) q = q.where('bootable', '=', filter.bootable ? 1 : 0);
    // id is the final tie-breaker, so the order (and the marker) is total.
    const keys: SortSpec[] = [...sort];
    if (!keys.some((k) => k.key === 'id')) keys.push({ key: 'id', dir: keys[keys.length - 1]?.dir ?? 'desc' });
    if (marker) {
      // Keyset pagination: rows strictly after the marker in the sort order.
      q = q.where((eb) => {
        const ors: Expression<SqlBool>[] = [];
        for (let i = 0; i < keys.length; i++) {
          const ands: Expression<SqlBool>[] = [];
          for (let j = 0; j < i; j++) {
            const k = keys[j] as SortSpec;
            const mv = marker[k.key];
            ands.push(mv === null ? eb(k.key, 'is', null) : eb(k.key, '=', mv));
          }
          const k = keys[i] as SortSpec;
          const v = marker[k.key];
          if (v === null) {
            // NULLs sort first ascending in our order (see below): anything non-null is after.
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
    // NULLs first ascending and last descending on both dialects (PostgreSQL's default differs).
    for (const k of keys) q = q.orderBy(k.key, (ob) => (k.dir === 'asc' ? ob.asc().nullsFirst() : ob.desc().nullsLast()));
    let rows = await q.execute();
    if (filter.metadata && Object.keys(filter.metadata).length > 0) {
      const want = Object.entries(filter.metadata);
      rows = rows.filter((r) => {
        const md = JSON.parse(r.metadata) as Record<string, string>;
        return want.every(([k, v]) => md[k] === v);
      });
    }
    return limit === undefined ? rows : rows.slice(0, limit);
  }

  async countVolumes(filter: VolumeFilter): Promise<number> {
    return (await this.listVolumes(filter, [], undefined, undefined)).length;
  }

  /** Set fields unconditionally (name, description, metadata). */
  async updateVolume(id: string, fields: Partial<VolumeRow>, db: Db = this.db): Promise<boolean> {
    const res = await db.updateTable('volumes').set({ ...fields, updated_at: cinderTime() }).where('id', '=', id).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** THE status transition: one conditional UPDATE; true when this caller won. */
  async transition(id: string, guard: StatusGuard, set: Partial<VolumeRow>, db: Db = this.db): Promise<boolean> {
    const res = await db
      .updateTable('volumes')
      .set({ ...set, updated_at: cinderTime() })
      .where('id', '=', id)
      .where((eb) => guardExpr(eb, guard))
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /**
   * Move a volume out of an attach/detach state to what its remaining attachments say:
   * `in-use` if one is attached, `reserved` if one is still being set up, else `available`.
   * One conditional UPDATE with the attachment check inside it.
   */
  async settleAfterDetach(id: string, guard: StatusGuard, db: Db = this.db): Promise<boolean> {
    const res = await db
      .updateTable('volumes')
      .set((eb) => ({
        status: eb
          .case()
          .when(eb.exists(eb.selectFrom('attachments').select('id').where('attachments.volume_id', '=', id).where('attachments.attach_status', '=', 'attached')))
          .then('in-use')
          .when(eb.exists(eb.selectFrom('attachments').select('id').where('attachments.volume_id', '=', id)))
          .then('reserved')
          .else('available')
          .end(),
        attach_status: eb
          .case()
          .when(eb.exists(eb.selectFrom('attachments').select('id').where('attachments.volume_id', '=', id).where('attachments.attach_status', '=', 'attached')))
          .then('attached')
          .else('detached')
          .end(),
        updated_at: cinderTime(),
      }))
      .where('id', '=', id)
      .where((eb) => guardExpr(eb, guard))
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Mark for deletion when the status allows and no attachment exists: one UPDATE. */
  async beginDelete(id: string, statuses: readonly string[]): Promise<boolean> {
    const res = await this.db
      .updateTable('volumes')
      .set({ status: 'deleting', updated_at: cinderTime() })
      .where('id', '=', id)
      .where('status', 'in', [...statuses])
      .where((eb) => eb.not(eb.exists(eb.selectFrom('attachments').select('id').where('attachments.volume_id', '=', id))))
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async deleteVolumeRow(id: string): Promise<void> {
    await this.db.deleteFrom('volumes').where('id', '=', id).execute();
  }

  // --- attachments ----------------------------------------------------------------------

  async insertAttachment(row: AttachmentRow, db: Db = this.db): Promise<void> {
    await db.insertInto('attachments').values(row).execute();
  }

  getAttachment(id: string, db: Db = this.db): Promise<AttachmentRow | undefined> {
    return db.selectFrom('attachments').selectAll().where('id', '=', id).executeTakeFirst();
  }

  attachmentsOfVolume(volumeId: string, db: Db = this.db): Promise<AttachmentRow[]> {
    return db.selectFrom('attachments').selectAll().where('volume_id', '=', volumeId).orderBy('created_at').orderBy('id').execute();
  }

  /** Attachments of many volumes at once (list views). */
  async attachmentsOfVolumes(volumeIds: readonly string[]): Promise<Map<string, AttachmentRow[]>> {
    const out = new Map<string, AttachmentRow[]>();
    if (volumeIds.length === 0) return out;
    const rows = await this.db.selectFrom('attachments').selectAll().where('volume_id', 'in', [...volumeIds]).orderBy('created_at').orderBy('id').execute();
    for (const r of rows) {
      const list = out.get(r.volume_id) ?? [];
      list.push(r);
      out.set(r.volume_id, list);
    }
    return out;
  }

  async listAttachments(f: { projectId: string | null; volumeId?: string; instanceId?: string; status?: string }): Promise<AttachmentRow[]> {
    let q = this.db.selectFrom('attachments').selectAll();
    if (f.projectId !== null) q = q.where('project_id', '=', f.projectId);
    if (f.volumeId !== undefined) q = q.where('volume_id', '=', f.volumeId);
    if (f.instanceId !== undefined) q = q.where('instance_uuid', '=', f.instanceId);
    if (f.status !== undefined) q = q.where('attach_status', '=', f.status);
    return q.orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
  }

  /** Conditional attachment update: only when its attach_status is one of `from`. */
  async updateAttachment(id: string, from: readonly string[] | null, set: Partial<AttachmentRow>, db: Db = this.db): Promise<boolean> {
    let q = db.updateTable('attachments').set({ updated_at: cinderTime(), ...set }).where('id', '=', id);
    if (from) q = q.where('attach_status', 'in', [...from]);
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async deleteAttachment(id: string, db: Db = this.db): Promise<boolean> {
    const res = await db.deleteFrom('attachments').where('id', '=', id).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }
}
