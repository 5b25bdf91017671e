/**
 * The compute service's rows: servers, block-device mappings, operations (the attach/detach
 * journal) and their spans. Same queries on SQLite and PostgreSQL; every state change that
 * races is one conditional statement (a unique constraint or `UPDATE … WHERE status = …`).
 */
import type { Kysely, Selectable } from 'kysely';
import { prepared, preparedByKey } from '../db/prepared.ts';
import { HitchError } from '../errors.ts';
import type { SpanRecord } from '../trace/span.ts';
import type { BdmTable, ComputeTables, OperationTable, ServerTable } from './schema.ts';

export type ServerRow = Selectable<ServerTable>;
export type BdmRow = Selectable<BdmTable>;
export type OperationRow = Selectable<OperationTable>;

const nowIso = (): string => new Date().toISOString();

/** pg returns bigint columns as strings; both dialects give numbers after this. */
function toOp(r: Selectable<OperationTable>): OperationRow {
  return { ...r, started_ms: Number(r.started_ms), ended_ms: r.ended_ms === null ? null : Number(r.ended_ms) };
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err.code === '23505' || err.code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed/.test(err.message ?? '');
}

const SPAN_COLUMNS = ['operation_id', 'span_id', 'parent_id', 'name', 'start_ms', 'end_ms', 'outcome', 'attrs', 'error_code', 'error_message'] as const;
type SpanRow = Record<(typeof SPAN_COLUMNS)[number], unknown>;

// The statements an attach or detach runs several times, compiled once (see db/prepared.ts).
const Q = {
  setStep: prepared(2, (db, step: string, id: string) => db.updateTable('operations').set({ step }).where('id', '=', id)),
  setBdm: prepared(2, (db, bdmId: string, id: string) => db.updateTable('operations').set({ bdm_id: bdmId }).where('id', '=', id)),
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
  /** Insert-or-update of `n` span rows. */
  upsertSpans: preparedByKey((n: number) =>
    prepared(n * SPAN_COLUMNS.length, (db, ...args: unknown[]) => {
      const rows = Array.from({ length: n }, (_, r) => Object.fromEntries(SPAN_COLUMNS.map((c, i) => [c, args[r * SPAN_COLUMNS.length + i]])));
      return db
        .insertInto('spans')
        .values(rows)
        .onConflict((oc) =>
          oc.columns(['operation_id', 'span_id']).doUpdateSet((eb) => ({
            end_ms: eb.ref('excluded.end_ms'),
            outcome: eb.ref('excluded.outcome'),
            attrs: eb.ref('excluded.attrs'),
            error_code: eb.ref('excluded.error_code'),
            error_message: eb.ref('excluded.error_message'),
          })),
        );
    }),
  ),
};

function spanRow(operationId: string, s: Readonly<SpanRecord>): SpanRow {
  return {
    operation_id: operationId,
    span_id: s.id,
    parent_id: s.parentId,
    name: s.name,
    start_ms: s.startMs,
    end_ms: s.endMs,
    outcome: s.outcome,
    attrs: JSON.stringify(s.attrs),
    error_code: s.error?.code ?? null,
    error_message: s.error?.message ?? null,
  };
}

export class ComputeRepository {
  readonly #db: Kysely<ComputeTables>;

  /** `db` is any Kysely instance on the shared database; the compute tables are its own. */
  constructor(db: object) {
    this.#db = db as Kysely<ComputeTables>;
  }

  // --- servers ------------------------------------------------------------------------------

  async insertServer(row: Omit<ServerRow, 'created_at' | 'updated_at'>): Promise<ServerRow> {
    const full: ServerRow = { ...row, created_at: nowIso(), updated_at: null };
    await this.#db.insertInto('servers').values(full).execute();
    return full;
  }

  async getServer(id: string, projectId?: string): Promise<ServerRow | undefined> {
    let q = this.#db.selectFrom('servers').selectAll().where('id', '=', id).where('status', '!=', 'DELETED');
    if (projectId !== undefined) q = q.where('project_id', '=', projectId);
    return q.executeTakeFirst();
  }

  /** A server whatever its status (recovery must see deleted ones too). */
  async getServerAny(id: string): Promise<ServerRow | undefined> {
    return this.#db.selectFrom('servers').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async listServers(projectId: string | undefined, host?: string): Promise<ServerRow[]> {
    let q = this.#db.selectFrom('servers').selectAll().where('status', '!=', 'DELETED');
    if (projectId !== undefined) q = q.where('project_id', '=', projectId);
    if (host !== undefined) q = q.where('host', '=', host);
    return q.orderBy('created_at', 'desc').orderBy('id').execute();
  }

  async setServerStatus(id: string, status: string, taskState: string | null = null): Promise<void> {
    await this.#db
      .updateTable('servers')
      .set({ status, task_state: taskState, updated_at: nowIso() })
      .where('id', '=', id)
      .execute();
  }

  async deleteServer(id: string): Promise<void> {
    await this.#db.deleteFrom('servers').where('id', '=', id).execute();
  }

  // --- block-device mappings ----------------------------------------------------------------

  /**
   * Insert the mapping; the unique constraints make a taken device name or a second mapping of
   * the same volume fail here, atomically, whatever raced.
   */
  async insertBdm(row: Omit<BdmRow, 'created_at' | 'updated_at'>): Promise<BdmRow> {
    const full: BdmRow = { ...row, created_at: nowIso(), updated_at: null };
    try {
      await this.#db.insertInto('bdms').values(full).execute();
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

  async updateBdm(id: string, patch: Partial<Pick<BdmRow, 'status' | 'connection_info' | 'device_info' | 'attachment_id'>>): Promise<void> {
    const columns = Object.keys(patch).filter((k) => patch[k as keyof typeof patch] !== undefined).sort();
    if (columns.length === 0) return;
    const values = columns.map((c) => patch[c as keyof typeof patch]);
    await Q.updateBdm(columns.join(',')).execute(this.#db, ...values, nowIso(), id);
  }

  /** Move a mapping from one status to another; false when it was not in `from`. */
  async transitionBdm(id: string, from: readonly string[], to: string): Promise<boolean> {
    const r = await this.#db
      .updateTable('bdms')
      .set({ status: to, updated_at: nowIso() })
      .where('id', '=', id)
      .where('status', 'in', [...from])
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async deleteBdm(id: string): Promise<void> {
    await this.#db.deleteFrom('bdms').where('id', '=', id).execute();
  }

  // --- operations (journal) and spans -------------------------------------------------------

  async insertOperation(row: Omit<OperationRow, 'created_at'>): Promise<void> {
    await this.#db.insertInto('operations').values({ ...row, created_at: nowIso() }).execute();
  }

  async setOperationBdm(id: string, bdmId: string): Promise<void> {
    await Q.setBdm.execute(this.#db, bdmId, id);
  }

  async setOperationStep(id: string, step: string): Promise<void> {
    await Q.setStep.execute(this.#db, step, id);
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

  async listUnfinished(host?: string): Promise<OperationRow[]> {
    let q = this.#db.selectFrom('operations').selectAll('operations').where('operations.state', '=', 'running');
    if (host !== undefined) {
      q = q.innerJoin('servers', 'servers.id', 'operations.server_id').where('servers.host', '=', host);
    }
    return (await q.execute()).map(toOp);
  }

  async saveSpans(operationId: string, spans: readonly Readonly<SpanRecord>[]): Promise<void> {
    await this.#db.transaction().execute(async (tx) => {
      await tx.deleteFrom('spans').where('operation_id', '=', operationId).execute();
      for (let i = 0; i < spans.length; i += 200) {
        const chunk = spans.slice(i, i + 200).map((s) => ({
          operation_id: operationId,
          span_id: s.id,
          parent_id: s.parentId,
          name: s.name,
          start_ms: s.startMs,
          end_ms: s.endMs,
          outcome: s.outcome,
          attrs: JSON.stringify(s.attrs),
          error_code: s.error?.code ?? null,
          error_message: s.error?.message ?? null,
        }));
        if (chunk.length > 0) await tx.insertInto('spans').values(chunk).execute();
      }
    });
  }

  /** Insert new spans and update changed ones (by span id); never deletes. */
  async upsertSpans(operationId: string, spans: readonly Readonly<SpanRecord>[]): Promise<void> {
    for (let i = 0; i < spans.length; i += 200) {
      const chunk = spans.slice(i, i + 200);
      const values = chunk.flatMap((s) => {
        const row = spanRow(operationId, s);
        return SPAN_COLUMNS.map((c) => row[c]);
      });
      await Q.upsertSpans(chunk.length).execute(this.#db, ...values);
    }
  }

  async loadSpans(operationId: string): Promise<SpanRecord[]> {
    const rows = await this.#db
      .selectFrom('spans')
      .selectAll()
      .where('operation_id', '=', operationId)
      .orderBy('span_id')
      .execute();
    return rows.map((r) => ({
      id: r.span_id,
      parentId: r.parent_id,
      name: r.name,
      startMs: Number(r.start_ms),
      endMs: r.end_ms === null ? null : Number(r.end_ms),
      outcome: r.outcome as SpanRecord['outcome'],
      attrs: JSON.parse(r.attrs) as SpanRecord['attrs'],
      ...(r.error_code ? { error: { code: r.error_code, message: r.error_message ?? '' } } : {}),
    }));
  }
}
