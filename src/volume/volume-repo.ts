/**
 * Volume and attachment queries. Every status change is ONE conditional UPDATE
 * (`… WHERE id = ? AND status IN (…)`), so two racing requests cannot both win: the database
 * decides, on SQLite and PostgreSQL alike, and the loser sees zero updated rows.
 */
import { sql, type Expression, type ExpressionBuilder, type Kysely, type SelectQueryBuilder, type SqlBool, type Transaction } from 'kysely';
import { afterMarker, orderItems, totalOrder } from '../db/keyset.ts';
import { prepared, preparedByKey } from '../db/prepared.ts';
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
  /** Cinder's inexact filter (`name~=`, 3.34+): the name contains this, any case. */
  readonly nameContains?: string;
  readonly status?: string;
  readonly availabilityZone?: string;
  readonly bootable?: boolean;
  readonly metadata?: Readonly<Record<string, string>>;
  /** From 3.60: `created_at` / `updated_at` compared with a time (Cinder's timestamp text). */
  readonly times?: ReadonlyArray<{ readonly column: 'created_at' | 'updated_at'; readonly op: TimeOp; readonly value: string }>;
}

export type TimeOp = '>' | '>=' | '=' | '<>' | '<' | '<=';

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

const ATTACHMENT_COLUMNS = [
  'id', 'volume_id', 'project_id', 'instance_uuid', 'attached_host', 'mountpoint', 'attach_status', 'attach_mode',
  'connector', 'connection_info', 'attach_time', 'detach_time', 'created_at', 'updated_at',
] as const satisfies ReadonlyArray<keyof AttachmentRow>;

/** The guard's shape (how many statuses of each kind): part of a prepared statement's key. */
function guardKey(g: StatusGuard): string {
  return `${g.statuses.length}/${g.multiattachStatuses?.length ?? 0}`;
}

/** A guard with placeholder statuses, the same shape as the key's. */
function guardOf(key: string, args: readonly unknown[]): StatusGuard {
  const [n, m] = key.split('/').map(Number) as [number, number];
  return { statuses: args.slice(0, n) as string[], multiattachStatuses: args.slice(n, n + m) as string[] };
}

/** The guard's statuses as arguments, in guardOf's order. */
function guardArgs(g: StatusGuard): string[] {
  return [...g.statuses, ...(g.multiattachStatuses ?? [])];
}

// The statements an attach or detach runs, compiled once per shape (see db/prepared.ts).
const Q = {
  getVolume: prepared(1, (db, id: string) => db.selectFrom('volumes').selectAll().where('id', '=', id)),
  getAttachment: prepared(1, (db, id: string) => db.selectFrom('attachments').selectAll().where('id', '=', id)),
  attachmentsOfVolume: prepared(1, (db, volumeId: string) => db.selectFrom('attachments').selectAll().where('volume_id', '=', volumeId).orderBy('created_at').orderBy('id')),
  deleteAttachment: prepared(1, (db, id: string) => db.deleteFrom('attachments').where('id', '=', id)),
  insertAttachment: prepared(ATTACHMENT_COLUMNS.length, (db, ...values: unknown[]) =>
    db.insertInto('attachments').values(Object.fromEntries(ATTACHMENT_COLUMNS.map((c, i) => [c, values[i]]))),
  ),
  /** `update volumes set <columns>, updated_at where id and <guard>`, by `columns|guard shape`. */
  transition: preparedByKey((key: string) => {
    const [cols, shape] = key.split('|') as [string, string];
    const columns = cols === '' ? [] : cols.split(',');
    const [n, m] = shape.split('/').map(Number) as [number, number];
    return prepared(columns.length + 2 + n + m, (db, ...args: unknown[]) => {
      const set: Record<string, unknown> = {};
      columns.forEach((c, i) => (set[c] = args[i]));
      set['updated_at'] = args[columns.length];
      const g = guardOf(shape, args.slice(columns.length + 2));
      return db
        .updateTable('volumes')
        .set(set)
        .where('id', '=', args[columns.length + 1] as string)
        .where((eb) => guardExpr(eb as VEB, g));
    });
  }),
  /** `update attachments set updated_at, <columns> where id [and attach_status in (…from)]`, by `columns|from count`. */
  updateAttachment: preparedByKey((key: string) => {
    const [cols, from] = key.split('|') as [string, string];
    const columns = cols === '' ? [] : cols.split(',');
    const nFrom = from === '-' ? -1 : Number(from);
    return prepared(columns.length + 2 + Math.max(nFrom, 0), (db, ...args: unknown[]) => {
      const set: Record<string, unknown> = { updated_at: args[0] };
      columns.forEach((c, i) => (set[c] = args[i + 1]));
      let q = db.updateTable('attachments').set(set).where('id', '=', args[columns.length + 1] as string);
      if (nFrom >= 0) q = q.where('attach_status', 'in', args.slice(columns.length + 2) as string[]);
      return q;
    });
  }),
  /** Complete an attachment in one of `from` (by how many): its volume's id, or no row. */
  complete: preparedByKey((n: number) =>
    prepared(3 + n, (db, now: string, updatedAt: string, id: string, ...from: unknown[]) =>
      db
        .updateTable('attachments')
        .set((eb) => ({ attach_status: 'attached', attach_time: eb.fn.coalesce('attach_time', eb.val(now)), updated_at: updatedAt }))
        .where('id', '=', id)
        .where('attach_status', 'in', from as string[])
        .returning('volume_id'),
    ),
  ),
  /** settleAfterDetach's statement, by guard shape. */
  settle: preparedByKey((shape: string) => {
    const [n, m] = shape.split('/').map(Number) as [number, number];
    return prepared(2 + n + m, (db, id: string, updatedAt: string, ...statuses: unknown[]) =>
      db
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
          updated_at: updatedAt,
        }))
        .where('id', '=', id)
        .where((eb) => guardExpr(eb as VEB, guardOf(shape, statuses))),
    );
  }),
};

/** The metadata JSON column as `volume_metadata` rows. */
function metadataRows(volumeId: string, projectId: string, json: string): Array<{ volume_id: string; project_id: string; key: string; value: string }> {
  return Object.entries(JSON.parse(json) as Record<string, string>).map(([key, value]) => ({ volume_id: volumeId, project_id: projectId, key, value: String(value) }));
}

/** Columns that may hold NULL: their order says where NULLs go; the others' must not (see orderBy). */
const NULLABLE_SORT_KEYS: ReadonlySet<SortKey> = new Set(['name', 'updated_at']);

/** `q` with the filter's conditions (the list's and the count's). */
function filtered<Q extends SelectQueryBuilder<Database, 'volumes', object>>(q0: Q, filter: VolumeFilter): Q {
  let q = q0 as SelectQueryBuilder<Database, 'volumes', object>;
  if (filter.projectId !== null) q = q.where('project_id', '=', filter.projectId);
  if (filter.name !== undefined) q = q.where('name', '=', filter.name);
  if (filter.nameContains !== undefined) {
    // Cinder's `name~`: contained, any case; `%`, `_` and `\` are themselves. Narrowed first by
    // the project's index, then a scan of that project's names.
    const pattern = `%${filter.nameContains.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where(sql<SqlBool>`lower(name) like ${pattern} escape '\\'`);
  }
  if (filter.status !== undefined) q = q.where('status', '=', filter.status);
  if (filter.availabilityZone !== undefined) q = q.where('availability_zone', '=', filter.availabilityZone);
  if (filter.bootable !== undefined) q = q.where('bootable', '=', filter.bootable ? 1 : 0);
  for (const [key, value] of Object.entries(filter.metadata ?? {})) {
    q = q.where((eb) => {
      let m = eb.selectFrom('volume_metadata as m').select('m.key').whereRef('m.volume_id', '=', 'volumes.id').where('m.key', '=', key).where('m.value', '=', value);
      // The project narrows the (key, value, project) range to this project's matches.
      if (filter.projectId !== null) m = m.where('m.project_id', '=', filter.projectId);
      return eb.exists(m);
    });
  }
  for (const t of filter.times ?? []) q = q.where(t.column, t.op, t.value);
  return q as Q;
}

/**
 * The list statement. Filters are plain column conditions and, for metadata, one `EXISTS` per
 * key on `volume_metadata`'s (key, value) index; the order and the marker are keyset pagination
 * (`db/keyset.ts`).
 */
export function volumeListQuery(db: Kysely<Database>, filter: VolumeFilter, sort: readonly SortSpec[], limit: number | undefined, marker: VolumeRow | undefined) {
  let q = filtered(db.selectFrom('volumes').selectAll(), filter);
  // id is the final tie-breaker, so the order (and the marker) is total.
  const keys = totalOrder(sort.map((k) => ({ column: k.key, dir: k.dir, nullable: NULLABLE_SORT_KEYS.has(k.key) })));
  if (marker) for (const c of afterMarker(keys, (column) => marker[column as SortKey])) q = q.where(c);
  for (const item of orderItems(keys)) q = q.orderBy(item);
  return limit === undefined ? q : q.limit(limit);
}

/** Ids bound in one `IN (…)` list: well under every database's limit on a statement's variables. */
export const ID_CHUNK = 1000;

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
      { id: '5e4f1a2b-0000-4000-8000-000000000001', name: '__DEFAULT__', description: 'Default Volume Type', is_public: 1, extra_specs: '{}', qos_specs_id: null },
      { id: '5e4f1a2b-0000-4000-8000-000000000002', name: 'multiattach', description: 'Volumes that several servers may attach at once', is_public: 1, extra_specs: '{"multiattach":"<is> True"}', qos_specs_id: null },
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

  /**
   * Insert a volume and its metadata rows (the list filter's index) in one transaction — the
   * caller's, when it passes one (the quota taken with the row).
   */
  async insertVolume(row: VolumeRow, db: Db = this.db): Promise<void> {
    const md = metadataRows(row.id, row.project_id, row.metadata);
    const write = async (d: Db): Promise<void> => {
      await d.insertInto('volumes').values(row).execute();
      if (md.length > 0) await d.insertInto('volume_metadata').values(md).execute();
    };
    if (md.length === 0 || db !== this.db) await write(db);
    else await this.tx(write);
  }

  async getVolume(id: string, db: Db = this.db): Promise<VolumeRow | undefined> {
    return (await Q.getVolume.execute(db, id)).rows[0] as VolumeRow | undefined;
  }

  /**
   * The volumes matching `filter`, sorted, after `marker`, at most `limit`: one statement, on
   * an index for every filter and sort key (migration 0004; the plans are held by
   * `test/scale-out/list-plans.test.ts`), so a page costs what it returns, not the table.
   */
  async listVolumes(filter: VolumeFilter, sort: readonly SortSpec[], limit: number | undefined, marker: VolumeRow | undefined): Promise<VolumeRow[]> {
    return volumeListQuery(this.db, filter, sort, limit, marker).execute();
  }

  /** Set fields unconditionally (name, description, metadata, project); metadata rows follow. */
  /** How many volumes match `filter` (3.45's `with_count`): a count on the filter's index. */
  async countVolumes(filter: VolumeFilter): Promise<number> {
    const r = await filtered(this.db.selectFrom('volumes').select((eb) => eb.fn.countAll<number | string>().as('n')), filter).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async updateVolume(id: string, fields: Partial<VolumeRow>, db: Db = this.db): Promise<boolean> {
    const write = async (d: Db): Promise<boolean> => {
      const res = await d.updateTable('volumes').set({ ...fields, updated_at: cinderTime() }).where('id', '=', id).executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return false;
      if (fields.metadata !== undefined || fields.project_id !== undefined) {
        // The metadata rows follow the JSON column and the project, in the same transaction.
        const v = await d.selectFrom('volumes').select(['project_id', 'metadata']).where('id', '=', id).executeTakeFirstOrThrow();
        await d.deleteFrom('volume_metadata').where('volume_id', '=', id).execute();
        const md = metadataRows(id, v.project_id, v.metadata);
        if (md.length > 0) await d.insertInto('volume_metadata').values(md).execute();
      }
      return true;
    };
    return (fields.metadata === undefined && fields.project_id === undefined) || db !== this.db ? write(db) : this.tx(write);
  }

  /** THE status transition: one conditional UPDATE; true when this caller won. */
  async transition(id: string, guard: StatusGuard, set: Partial<VolumeRow>, db: Db = this.db): Promise<boolean> {
    const columns = Object.keys(set).filter((k) => k !== 'updated_at' && set[k as keyof VolumeRow] !== undefined);
    const values = columns.map((c) => set[c as keyof VolumeRow]);
    const res = await Q.transition(`${columns.join(',')}|${guardKey(guard)}`).execute(db, ...values, cinderTime(), id, ...guardArgs(guard));
    return Number(res.numAffectedRows) > 0;
  }

  /**
   * Move a volume out of an attach/detach state to what its remaining attachments say:
   * `in-use` if one is attached, `reserved` if one is still being set up, else `available`.
   * One conditional UPDATE with the attachment check inside it.
   */
  async settleAfterDetach(id: string, guard: StatusGuard, db: Db = this.db): Promise<boolean> {
    const res = await Q.settle(guardKey(guard)).execute(db, id, cinderTime(), ...guardArgs(guard));
    return Number(res.numAffectedRows) > 0;
  }

  /**
   * Mark for deletion in one UPDATE when the status allows (`null`: any, a forced delete), the
   * volume is not attached, not migrating, not awaiting a transfer, and has no snapshots (unless
   * `allowSnapshots`, a cascade). A forced delete may take a volume whose attachments never
   * completed (stuck `attaching`); it goes with them.
   */
  async beginDelete(id: string, statuses: readonly string[] | null, opts: { allowSnapshots?: boolean } = {}): Promise<boolean> {
    let q = this.db
      .updateTable('volumes')
      .set({ status: 'deleting', updated_at: cinderTime() })
      .where('id', '=', id)
      .where('attach_status', '!=', 'attached')
      .where((eb) => eb.or([eb('migration_status', 'is', null), eb('migration_status', 'in', ['success', 'error', 'none'])]))
      .where((eb) => eb.not(eb.exists(eb.selectFrom('transfers').select('id').where('transfers.volume_id', '=', id))));
    if (statuses !== null) {
      q = q.where('status', 'in', [...statuses]).where((eb) => eb.not(eb.exists(eb.selectFrom('attachments').select('id').where('attachments.volume_id', '=', id))));
    } else {
      q = q.where((eb) => eb.not(eb.exists(eb.selectFrom('attachments').select('id').where('attachments.volume_id', '=', id).where('attachments.attach_status', '=', 'attached'))));
    }
    if (!opts.allowSnapshots) q = q.where((eb) => eb.not(eb.exists(eb.selectFrom('snapshots').select('id').where('snapshots.volume_id', '=', id))));
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Delete the row (its attachments and metadata rows go with it); false when it was already gone. */
  async deleteVolumeRow(id: string, db: Db = this.db): Promise<boolean> {
    const res = await db.deleteFrom('volumes').where('id', '=', id).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  // --- attachments ----------------------------------------------------------------------

  async insertAttachment(row: AttachmentRow, db: Db = this.db): Promise<void> {
    await Q.insertAttachment.execute(db, ...ATTACHMENT_COLUMNS.map((c) => row[c]));
  }

  async getAttachment(id: string, db: Db = this.db): Promise<AttachmentRow | undefined> {
    return (await Q.getAttachment.execute(db, id)).rows[0] as AttachmentRow | undefined;
  }

  async attachmentsOfVolume(volumeId: string, db: Db = this.db): Promise<AttachmentRow[]> {
    return (await Q.attachmentsOfVolume.execute(db, volumeId)).rows as AttachmentRow[];
  }

  /**
   * Attachments of many volumes at once (list views). The ids go in chunks: a list of every
   * volume can be longer than a statement may bind (SQLite 32 766 variables, PostgreSQL 65 535).
   */
  async attachmentsOfVolumes(volumeIds: readonly string[]): Promise<Map<string, AttachmentRow[]>> {
    const out = new Map<string, AttachmentRow[]>();
    for (let i = 0; i < volumeIds.length; i += ID_CHUNK) {
      const ids = volumeIds.slice(i, i + ID_CHUNK);
      const rows = await this.db.selectFrom('attachments').selectAll().where('volume_id', 'in', ids).orderBy('created_at').orderBy('id').execute();
      for (const r of rows) {
        const list = out.get(r.volume_id) ?? [];
        list.push(r);
        out.set(r.volume_id, list);
      }
    }
    return out;
  }

  /**
   * The attachments of the volumes on one list page, found by the page's own statement as a
   * subquery: it needs not wait for the page, so a detail list sends both at once (one round trip
   * after the other was a wait of its own per request). `limit` bounds the subquery: a page.
   */
  async attachmentsOfPage(filter: VolumeFilter, sort: readonly SortSpec[], limit: number, marker: VolumeRow | undefined): Promise<Map<string, AttachmentRow[]>> {
    const page = volumeListQuery(this.db, filter, sort, limit, marker).clearSelect().select('volumes.id');
    const rows = await this.db.selectFrom('attachments').selectAll().where('volume_id', 'in', page).orderBy('created_at').orderBy('id').execute();
    const out = new Map<string, AttachmentRow[]>();
    for (const r of rows) {
      const list = out.get(r.volume_id) ?? [];
      list.push(r);
      out.set(r.volume_id, list);
    }
    return out;
  }

  /** A page of attachments, newest first (keyset on created_at, id: `db/keyset.ts`). */
  async listAttachments(
    f: { projectId: string | null; volumeId?: string; instanceId?: string; status?: string },
    limit?: number,
    marker?: AttachmentRow,
  ): Promise<AttachmentRow[]> {
    let q = this.db.selectFrom('attachments').selectAll();
    if (f.projectId !== null) q = q.where('project_id', '=', f.projectId);
    if (f.volumeId !== undefined) q = q.where('volume_id', '=', f.volumeId);
    if (f.instanceId !== undefined) q = q.where('instance_uuid', '=', f.instanceId);
    if (f.status !== undefined) q = q.where('attach_status', '=', f.status);
    const keys = totalOrder([{ column: 'created_at', dir: 'desc', nullable: false }]);
    if (marker) for (const c of afterMarker(keys, (column) => marker[column as 'created_at' | 'id'])) q = q.where(c);
    for (const item of orderItems(keys)) q = q.orderBy(item);
    return (limit === undefined ? q : q.limit(limit)).execute();
  }

  /** Conditional attachment update: only when its attach_status is one of `from`. */
  async updateAttachment(id: string, from: readonly string[] | null, set: Partial<AttachmentRow>, db: Db = this.db): Promise<boolean> {
    const columns = Object.keys(set).filter((k) => k !== 'updated_at' && set[k as keyof AttachmentRow] !== undefined);
    const values = columns.map((c) => set[c as keyof AttachmentRow]);
    const updatedAt = set.updated_at ?? cinderTime();
    const res = await Q.updateAttachment(`${columns.join(',')}|${from ? from.length : '-'}`).execute(db, updatedAt, ...values, id, ...(from ?? []));
    return Number(res.numAffectedRows) > 0;
  }

  /**
   * attach_status → attached (attach_time kept if set, else `now`) when it is one of `from`:
   * one conditional UPDATE. The volume's id, or null when no attachment moved.
   */
  async completeAttachment(id: string, from: readonly string[], now: string, db: Db = this.db): Promise<string | null> {
    const r = await Q.complete(from.length).execute(db, now, now, id, ...from);
    return (r.rows[0] as { volume_id: string } | undefined)?.volume_id ?? null;
  }

  async deleteAttachment(id: string, db: Db = this.db): Promise<boolean> {
    const res = await Q.deleteAttachment.execute(db, id);
    return Number(res.numAffectedRows) > 0;
  }
}
