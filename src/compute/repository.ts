/**
 * The compute service's rows: servers, block-device mappings, operations (the attach/detach
 * journal) and their traces (one JSON document per operation). Same queries on SQLite and PostgreSQL; every state change that
 * races is one conditional statement (a unique constraint or `UPDATE … WHERE status = …`).
 */
import { PostgresAdapter, sql, type Kysely, type Selectable, type SqlBool } from 'kysely';
import { afterMarker, orderItems, totalOrder, type KeysetKey } from '../db/keyset.ts';
import { prepared, preparedByKey } from '../db/prepared.ts';
import { HitchError } from '../errors.ts';
import type { SpanRecord } from '../trace/span.ts';
import type { BdmTable, ComputeTables, OperationTable, ServerTable } from './schema.ts';

export type ServerRow = Selectable<ServerTable>;
export type BdmRow = Selectable<BdmTable>;
export type OperationRow = Selectable<OperationTable>;

/** What the server list filters on (Nova's `GET /servers` query, as Hitch supports it). */
export interface ServerFilter {
  /** Null: every project (admin `all_tenants`). */
  readonly projectId: string | null;
  /** The whole name, or `{ prefix }` for Nova's `^name` pattern. */
  readonly name?: string | { readonly prefix: string };
  readonly status?: string;
  /** `changes-since` / `changes-before`: updated_at at or after / at or before (ISO-8601 UTC). */
  readonly changesSince?: string;
  readonly changesBefore?: string;
  /** Deleted servers too (Nova shows them with `changes-since`). */
  readonly includeDeleted?: boolean;
}

export type ServerSortKey = 'created_at' | 'updated_at' | 'name' | 'id' | 'status';

export interface ServerSort {
  readonly key: ServerSortKey;
  readonly dir: 'asc' | 'desc';
}

const nowIso = (): string => new Date().toISOString();

/** pg returns bigint columns as strings; both dialects give numbers after this. */
function toOp(r: Selectable<OperationTable>): OperationRow {
  return { ...r, started_ms: Number(r.started_ms), ended_ms: r.ended_ms === null ? null : Number(r.ended_ms) };
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err.code === '23505' || err.code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed/.test(err.message ?? '');
}

const OPERATION_COLUMNS = [
  'id', 'kind', 'server_id', 'volume_id', 'bdm_id', 'project_id', 'request_id', 'user_id', 'state', 'step', 'error_code', 'error_message', 'started_ms', 'ended_ms', 'created_at',
] as const satisfies ReadonlyArray<keyof OperationRow>;
const BDM_COLUMNS = [
  'id', 'server_id', 'volume_id', 'device_name', 'attachment_id', 'status', 'connection_info', 'device_info', 'cinder_flow', 'created_at', 'updated_at',
  'boot_index', 'delete_on_termination', 'source_type', 'image_id', 'volume_size', 'volume_type', 'tag',
] as const satisfies ReadonlyArray<keyof BdmRow>;

/** Server columns server create may leave out (null when it does). */
type OptionalServerColumns =
  | 'flavor' | 'key_name' | 'user_data' | 'availability_zone' | 'description' | 'hostname' | 'config_drive' | 'access_ipv4' | 'access_ipv6'
  | 'disk_config' | 'tags' | 'trusted_certs' | 'reservation_id' | 'launch_index' | 'launched_at' | 'root_device_name' | 'fault' | 'block_devices';
export type NewServer = Omit<ServerRow, 'created_at' | 'updated_at' | OptionalServerColumns> & Partial<Pick<ServerRow, OptionalServerColumns>>;

/** Mapping columns only boot from volume sets (null for a hot-plug attach). */
type OptionalBdmColumns = 'boot_index' | 'delete_on_termination' | 'source_type' | 'image_id' | 'volume_size' | 'volume_type' | 'tag';
export type NewBdm = Omit<BdmRow, 'created_at' | 'updated_at' | OptionalBdmColumns> & Partial<Pick<BdmRow, OptionalBdmColumns>>;

const SERVER_DEFAULTS: Pick<ServerRow, OptionalServerColumns> = {
  flavor: null, key_name: null, user_data: null, availability_zone: null, description: null, hostname: null, config_drive: null,
  access_ipv4: null, access_ipv6: null, disk_config: null, tags: null, trusted_certs: null, reservation_id: null, launch_index: null,
  launched_at: null, root_device_name: null, fault: null, block_devices: null,
};
const BDM_DEFAULTS: Pick<BdmRow, OptionalBdmColumns> = {
  boot_index: null, delete_on_termination: null, source_type: null, image_id: null, volume_size: null, volume_type: null, tag: null,
};

/** `insert into <table> (<columns>) values (…)`, compiled once. */
function insertRow(table: string, columns: readonly string[]) {
  return prepared(columns.length, (db, ...values: unknown[]) => db.insertInto(table).values(Object.fromEntries(columns.map((c, i) => [c, values[i]]))));
}

// The statements an attach or detach runs, compiled once (see db/prepared.ts).
const Q = {
  getServer: prepared(2, (db, id: string, deleted: string) => db.selectFrom('servers').selectAll().where('id', '=', id).where('status', '!=', deleted)),
  getServerOf: prepared(3, (db, id: string, deleted: string, projectId: string) =>
    db.selectFrom('servers').selectAll().where('id', '=', id).where('status', '!=', deleted).where('project_id', '=', projectId),
  ),
  insertOperation: insertRow('operations', OPERATION_COLUMNS),
  insertBdm: insertRow('bdms', BDM_COLUMNS),
  deleteBdm: prepared(1, (db, id: string) => db.deleteFrom('bdms').where('id', '=', id)),
  /** `update bdms set status, updated_at where id and status in (…)`, by how many statuses. */
  transitionBdm: preparedByKey((n: number) =>
    prepared(3 + n, (db, to: string, updatedAt: string, id: string, ...from: unknown[]) =>
      db.updateTable('bdms').set({ status: to, updated_at: updatedAt }).where('id', '=', id).where('status', 'in', from as string[]),
    ),
  ),
  setStep: prepared(2, (db, step: string, id: string) => db.updateTable('operations').set({ step }).where('id', '=', id)),
  setStepBdm: prepared(3, (db, step: string, bdmId: string, id: string) => db.updateTable('operations').set({ step, bdm_id: bdmId }).where('id', '=', id)),
  finish: prepared(5, (db, state: string, endedMs: number, code: string | null, message: string | null, id: string) =>
    db.updateTable('operations').set({ state, ended_ms: endedMs, error_code: code, error_message: message }).where('id', '=', id),
  ),
  getBdm: prepared(2, (db, serverId: string, volumeId: string) => db.selectFrom('bdms').selectAll().where('server_id', '=', serverId).where('volume_id', '=', volumeId)),
  listBdms: prepared(1, (db, serverId: string) => db.selectFrom('bdms').selectAll().where('server_id', '=', serverId).orderBy('device_name')),
  /** `update bdms set <columns>, updated_at where id`, by the columns patched (sorted, comma-joined). */
  updateBdm: preparedByKey((columns: string) =>
    prepared(columns.split(',').length + 2, (db, ...args: unknown[]) => {
      const cols = columns.split(',');
      const set: Record<string, unknown> = {};
      cols.forEach((c, i) => (set[c] = args[i]));
      set['updated_at'] = args[cols.length];
      return db.updateTable('bdms').set(set).where('id', '=', args[cols.length + 1]);
    }),
  ),
  /** An operation's whole trace, inserted or replaced. */
  saveTrace: prepared(2, (db, operationId: string, spans: string) =>
    db
      .insertInto('traces')
      .values({ operation_id: operationId, spans })
      .onConflict((oc) => oc.column('operation_id').doUpdateSet((eb) => ({ spans: eb.ref('excluded.spans') }))),
  ),
  loadTrace: prepared(1, (db, operationId: string) => db.selectFrom('traces').select('spans').where('operation_id', '=', operationId)),
};

/** What the operation history can be asked for (`listOperationsPage`). */
export interface OperationQuery {
  readonly projectId: string | null;
  readonly status?: 'running' | 'done' | 'failed';
  readonly kind?: string;
  readonly serverId?: string;
  readonly volumeId?: string;
  readonly limit: number;
  readonly after?: { readonly created_at: string; readonly id: string };
}

/** The operation history's order, newest first: created_at, then id (indexes operations_*_created). */
const OPERATION_ORDER: readonly KeysetKey[] = [
  { column: 'created_at', dir: 'desc', nullable: false },
  { column: 'id', dir: 'desc', nullable: false },
];

export class ComputeRepository {
  readonly #db: Kysely<ComputeTables>;

  /** `db` is any Kysely instance on the shared database; the compute tables are its own. */
  constructor(db: object) {
    this.#db = db as Kysely<ComputeTables>;
  }

  // --- servers ------------------------------------------------------------------------------

  async insertServer(row: NewServer): Promise<ServerRow> {
    // updated_at from the start: `changes-since` is one range on it.
    const now = nowIso();
    const full: ServerRow = { ...SERVER_DEFAULTS, ...row, created_at: now, updated_at: now };
    await this.#db.insertInto('servers').values(full).execute();
    return full;
  }

  async getServer(id: string, projectId?: string): Promise<ServerRow | undefined> {
    const r = projectId === undefined ? await Q.getServer.execute(this.#db, id, 'DELETED') : await Q.getServerOf.execute(this.#db, id, 'DELETED', projectId);
    return r.rows[0] as ServerRow | undefined;
  }

  /** A server whatever its status (recovery must see deleted ones too). */
  async getServerAny(id: string): Promise<ServerRow | undefined> {
    return this.#db.selectFrom('servers').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * A page of the server list: filters, order and marker in one statement, on an index for each
   * (compute migration 0004; `test/scale-out/list-plans.test.ts`).
   */
  async listServerPage(f: ServerFilter, sort: readonly ServerSort[], limit: number | undefined, marker: ServerRow | undefined): Promise<ServerRow[]> {
    let q = this.#db.selectFrom('servers').selectAll();
    if (f.projectId !== null) q = q.where('project_id', '=', f.projectId);
    if (!f.includeDeleted) q = q.where('status', '!=', 'DELETED');
    if (f.status !== undefined) q = q.where('status', '=', f.status);
    if (typeof f.name === 'string') q = q.where('name', '=', f.name);
    else if (f.name !== undefined) q = q.where(this.#prefixMatch('name', f.name.prefix));
    if (f.changesSince !== undefined) q = q.where('updated_at', '>=', f.changesSince);
    if (f.changesBefore !== undefined) q = q.where('updated_at', '<=', f.changesBefore);
    const keys: KeysetKey[] = totalOrder(sort.map((k) => ({ column: k.key, dir: k.dir, nullable: k.key === 'updated_at' })));
    if (marker) for (const c of afterMarker(keys, (column) => marker[column as ServerSortKey])) q = q.where(c);
    for (const item of orderItems(keys)) q = q.orderBy(item);
    return (limit === undefined ? q : q.limit(limit)).execute();
  }

  /** `column` starts with `prefix`, in a form each dialect runs on an index (byte order). */
  #prefixMatch(column: string, prefix: string) {
    if (this.#db.getExecutor().adapter instanceof PostgresAdapter) {
      return sql<SqlBool>`${sql.ref(column)} like ${prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%'}`;
    }
    return sql<SqlBool>`${sql.ref(column)} glob ${prefix.replace(/[*?[]/g, (c) => `[${c}]`) + '*'}`;
  }

  /** Live servers per host, for placement: one grouped count on the host index. */
  async serverCountsByHost(): Promise<Map<string, number>> {
    const rows = await this.#db
      .selectFrom('servers')
      .select(['host', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('status', '!=', 'DELETED')
      .groupBy('host')
      .execute();
    return new Map(rows.map((r) => [r.host, Number(r.n)]));
  }

  async listServers(projectId: string | undefined, host?: string): Promise<ServerRow[]> {
    let q = this.#db.selectFrom('servers').selectAll().where('status', '!=', 'DELETED');
    if (projectId !== undefined) q = q.where('project_id', '=', projectId);
    if (host !== undefined) q = q.where('host', '=', host);
    return q.orderBy('created_at', 'desc').orderBy('id').execute();
  }

  async setServerStatus(id: string, status: string, taskState: string | null = null): Promise<void> {
    const now = nowIso();
    await this.#db
      .updateTable('servers')
      // The first time a server is ACTIVE is when it launched (`OS-SRV-USG:launched_at`).
      .set((eb) => ({ status, task_state: taskState, updated_at: now, ...(status === 'ACTIVE' ? { launched_at: eb.fn.coalesce('launched_at', eb.val(now)) } : {}) }))
      .where('id', '=', id)
      .execute();
  }

  /** Why a server is in ERROR (Nova's instance fault). */
  async setServerFault(id: string, fault: { code: number; message: string; details?: string }): Promise<void> {
    await this.#db.updateTable('servers').set({ fault: JSON.stringify({ ...fault, created: nowIso() }) }).where('id', '=', id).execute();
  }

  async deleteServer(id: string): Promise<void> {
    await this.#db.deleteFrom('servers').where('id', '=', id).execute();
  }

  // --- block-device mappings ----------------------------------------------------------------

  /**
   * Insert the mapping; the unique constraints make a taken device name or a second mapping of
   * the same volume fail here, atomically, whatever raced.
   */
  async insertBdm(row: NewBdm): Promise<BdmRow> {
    const full: BdmRow = { ...BDM_DEFAULTS, ...row, created_at: nowIso(), updated_at: null };
    try {
      await Q.insertBdm.execute(this.#db, ...BDM_COLUMNS.map((c) => full[c]));
    } catch (e) {
      if (isUniqueViolation(e)) {
        throw new HitchError('HITCH_DEVICE_IN_USE', { device: row.device_name, volume: row.volume_id });
      }
      throw e;
    }
    return full;
  }

  async listBdms(serverId: string): Promise<BdmRow[]> {
    return (await Q.listBdms.execute(this.#db, serverId)).rows as BdmRow[];
  }

  /** The mappings of many servers (a page of the list), in one statement per thousand. */
  async listBdmsOfServers(serverIds: readonly string[]): Promise<Map<string, BdmRow[]>> {
    const out = new Map<string, BdmRow[]>();
    for (let i = 0; i < serverIds.length; i += 1000) {
      const rows = await this.#db.selectFrom('bdms').selectAll().where('server_id', 'in', serverIds.slice(i, i + 1000)).orderBy('server_id').orderBy('device_name').execute();
      for (const r of rows) out.set(r.server_id, [...(out.get(r.server_id) ?? []), r]);
    }
    return out;
  }

  async listAllBdms(): Promise<BdmRow[]> {
    return this.#db.selectFrom('bdms').selectAll().orderBy('server_id').orderBy('device_name').execute();
  }

  async getBdm(serverId: string, volumeId: string): Promise<BdmRow | undefined> {
    return (await Q.getBdm.execute(this.#db, serverId, volumeId)).rows[0] as BdmRow | undefined;
  }

  async getBdmById(id: string): Promise<BdmRow | undefined> {
    return this.#db.selectFrom('bdms').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async bdmsOfVolume(volumeId: string): Promise<BdmRow[]> {
    return this.#db.selectFrom('bdms').selectAll().where('volume_id', '=', volumeId).execute();
  }

  async updateBdm(id: string, patch: Partial<Pick<BdmRow, 'status' | 'connection_info' | 'device_info' | 'attachment_id' | 'delete_on_termination' | 'boot_index' | 'source_type' | 'tag'>>): Promise<void> {
    const columns = Object.keys(patch).filter((k) => patch[k as keyof typeof patch] !== undefined).sort();
    if (columns.length === 0) return;
    const values = columns.map((c) => patch[c as keyof typeof patch]);
    await Q.updateBdm(columns.join(',')).execute(this.#db, ...values, nowIso(), id);
  }

  /** Move a mapping from one status to another; false when it was not in `from`. */
  async transitionBdm(id: string, from: readonly string[], to: string): Promise<boolean> {
    const r = await Q.transitionBdm(from.length).execute(this.#db, to, nowIso(), id, ...from);
    return Number(r.numAffectedRows) === 1;
  }

  async deleteBdm(id: string): Promise<void> {
    await Q.deleteBdm.execute(this.#db, id);
  }

  // --- operations (journal) and spans -------------------------------------------------------

  async insertOperation(row: Omit<OperationRow, 'created_at' | 'user_id'> & { readonly user_id?: string | null }): Promise<void> {
    const full: OperationRow = { ...row, user_id: row.user_id ?? null, created_at: nowIso() };
    await Q.insertOperation.execute(this.#db, ...OPERATION_COLUMNS.map((c) => full[c]));
  }

  /** The journal's step (and the mapping's id, when it is new): one statement, before the step runs. */
  async setOperationStep(id: string, step: string, bdmId: string | null = null): Promise<void> {
    if (bdmId === null) await Q.setStep.execute(this.#db, step, id);
    else await Q.setStepBdm.execute(this.#db, step, bdmId, id);
  }

  async finishOperation(
    id: string,
    state: 'done' | 'failed' | 'rolled_back',
    endedMs: number,
    error?: { code: string; message: string },
  ): Promise<void> {
    await Q.finish.execute(this.#db, state, endedMs, error?.code ?? null, error?.message ?? null, id);
  }

  async getOperation(id: string): Promise<OperationRow | undefined> {
    const r = await this.#db.selectFrom('operations').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toOp(r);
  }

  /** Operations of a server and volume, newest first. */
  async listOperations(serverId: string, volumeId?: string): Promise<OperationRow[]> {
    let q = this.#db.selectFrom('operations').selectAll().where('server_id', '=', serverId);
    if (volumeId !== undefined) q = q.where('volume_id', '=', volumeId);
    return (await q.orderBy('started_ms', 'desc').orderBy('created_at', 'desc').execute()).map(toOp);
  }

  /**
   * A page of the operation history, newest first (`created_at`, then id): filtered by project
   * (null: all), outcome (`failed`: rolled back or failed), kind, server or volume; after the
   * operation `after`; at most `limit`.
   */
  async listOperationsPage(f: OperationQuery): Promise<OperationRow[]> {
    let q = this.#db.selectFrom('operations').selectAll();
    if (f.projectId !== null) q = q.where('project_id', '=', f.projectId);
    if (f.status === 'failed') q = q.where('state', 'in', ['failed', 'rolled_back']);
    else if (f.status !== undefined) q = q.where('state', '=', f.status);
    if (f.kind !== undefined) q = q.where('kind', '=', f.kind);
    if (f.serverId !== undefined) q = q.where('server_id', '=', f.serverId);
    if (f.volumeId !== undefined) q = q.where('volume_id', '=', f.volumeId);
    const after = f.after;
    // The keyset's range first (created_at <= the marker's), so the index starts at the marker
    // instead of reading every newer operation and filtering them.
    if (after) for (const c of afterMarker(OPERATION_ORDER, (col) => after[col as 'created_at' | 'id'])) q = q.where(c);
    return (await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).execute()).map(toOp);
  }

  /**
   * Retention: remove the finished operations asked for before `beforeIso`, with their traces
   * (the foreign key cascades). Running ones stay whatever their age: recovery needs them.
   */
  async pruneOperations(beforeIso: string): Promise<number> {
    const r = await this.#db.deleteFrom('operations').where('created_at', '<', beforeIso).where('state', '!=', 'running').executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async listUnfinished(host?: string): Promise<OperationRow[]> {
    let q = this.#db.selectFrom('operations').selectAll('operations').where('operations.state', '=', 'running');
    if (host !== undefined) {
      q = q.innerJoin('servers', 'servers.id', 'operations.server_id').where('servers.host', '=', host);
    }
    return (await q.execute()).map(toOp);
  }

  /** Write an operation's trace: every span, as they are now (a later save replaces it). */
  async saveSpans(operationId: string, spans: readonly Readonly<SpanRecord>[]): Promise<void> {
    await Q.saveTrace.execute(this.#db, operationId, JSON.stringify(spans));
  }

  async loadSpans(operationId: string): Promise<SpanRecord[]> {
    const r = await Q.loadTrace.execute(this.#db, operationId);
    const row = r.rows[0] as { spans: string } | undefined;
    return row ? (JSON.parse(row.spans) as SpanRecord[]) : [];
  }
}
