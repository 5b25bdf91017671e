/**
 * Scale-out: the work queue between stateless API processes and one agent per compute host,
 * in the shared database. An API process enqueues a task for the server's host; the host's
 * agent claims it (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a conditional update on SQLite),
 * runs it through its compute manager and records the outcome. Agents heartbeat; a host whose
 * heartbeat is stale takes no new servers and its requests fail fast instead of hanging.
 *
 * Exactly once: a task is claimed by one agent (the claim is one conditional statement); an
 * agent that dies mid-task leaves it `running`, and the next agent for that host marks it
 * `failed` after its manager's crash recovery has driven the operation itself to an end — the
 * operation is never run twice, and never left half done.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { ERROR_CATALOG, HitchError, type ErrorCode } from '../errors.ts';
import type { ComputeTables, ComputeTaskTable } from './schema.ts';

export type TaskKind = 'spawn' | 'destroy' | 'attach' | 'detach';
export type TaskState = 'queued' | 'running' | 'reserved' | 'done' | 'failed';
export type TaskRow = ComputeTaskTable;

const num = (v: unknown): number => Number(v);

export class TaskQueue {
  readonly #db: Kysely<ComputeTables>;
  readonly #postgres: boolean;

  constructor(db: object, dialect: 'sqlite' | 'postgres') {
    this.#db = db as Kysely<ComputeTables>;
    this.#postgres = dialect === 'postgres';
  }

  async enqueue(host: string, kind: TaskKind, payload: unknown, now = Date.now()): Promise<string> {
    const id = crypto.randomUUID();
    await this.#db
      .insertInto('compute_tasks')
      .values({ id, host, kind, payload: JSON.stringify(payload), state: 'queued', result: null, error_code: null, error_message: null, claimed_by: null, created_ms: now, updated_ms: now })
      .execute();
    return id;
  }

  /** Claim the oldest queued task of `host` for `agentId`, or undefined when there is none. */
  async claim(host: string, agentId: string, now = Date.now()): Promise<TaskRow | undefined> {
    if (this.#postgres) {
      const r = await sql<TaskRow>`
        UPDATE compute_tasks SET state = 'running', claimed_by = ${agentId}, updated_ms = ${now}
        WHERE id = (SELECT id FROM compute_tasks WHERE host = ${host} AND state = 'queued'
                    ORDER BY created_ms, id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING *`.execute(this.#db);
      return r.rows[0];
    }
    // SQLite has one writer at a time: a conditional update is enough to make the claim exclusive.
    const next = await this.#db
      .selectFrom('compute_tasks')
      .selectAll()
      .where('host', '=', host)
      .where('state', '=', 'queued')
      .orderBy('created_ms')
      .orderBy('id')
      .executeTakeFirst();
    if (!next) return undefined;
    const r = await this.#db
      .updateTable('compute_tasks')
      .set({ state: 'running', claimed_by: agentId, updated_ms: now })
      .where('id', '=', next.id)
      .where('state', '=', 'queued')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1 ? { ...next, state: 'running', claimed_by: agentId } : this.claim(host, agentId, now);
  }

  async update(id: string, state: TaskState, result: unknown, error?: HitchError, now = Date.now()): Promise<void> {
    await this.#db
      .updateTable('compute_tasks')
      .set({
        state,
        result: result === undefined ? null : JSON.stringify(result),
        error_code: error?.code ?? null,
        error_message: error?.message ?? null,
        updated_ms: now,
      })
      .where('id', '=', id)
      .execute();
  }

  async get(id: string): Promise<TaskRow | undefined> {
    return this.#db.selectFrom('compute_tasks').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Tasks a previous agent of `host` left running (it died): they are over, one way or the other. */
  async abandon(host: string, agentId: string, now = Date.now()): Promise<number> {
    const r = await this.#db
      .updateTable('compute_tasks')
      .set({ state: 'failed', error_code: 'HITCH_ABORTED', error_message: 'the agent restarted; crash recovery finished or rolled back the operation', updated_ms: now })
      .where('host', '=', host)
      .where('state', 'in', ['running', 'reserved'])
      .where('claimed_by', '!=', agentId)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  async heartbeat(host: string, agentId: string, now = Date.now()): Promise<void> {
    const r = await this.#db.updateTable('compute_hosts').set({ agent_id: agentId, heartbeat_ms: now }).where('name', '=', host).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) {
      await this.#db
        .insertInto('compute_hosts')
        .values({ name: host, agent_id: agentId, heartbeat_ms: now, started_ms: now })
        .onConflict((oc) => oc.column('name').doUpdateSet({ agent_id: agentId, heartbeat_ms: now }))
        .execute();
    }
  }

  /** Hosts whose agent's heartbeat is younger than `staleMs`. */
  async liveHosts(staleMs: number, now = Date.now()): Promise<string[]> {
    const rows = await this.#db.selectFrom('compute_hosts').select(['name', 'heartbeat_ms']).execute();
    return rows.filter((r) => now - num(r.heartbeat_ms) < staleMs).map((r) => r.name).sort();
  }

  async signOff(host: string, agentId: string): Promise<void> {
    await this.#db.updateTable('compute_hosts').set({ heartbeat_ms: 0 }).where('name', '=', host).where('agent_id', '=', agentId).execute();
  }
}

/** Rebuild the error an agent recorded, with its catalog status. */
export function taskError(t: TaskRow): HitchError {
  const code = (t.error_code && t.error_code in ERROR_CATALOG ? t.error_code : 'HITCH_INTERNAL') as ErrorCode;
  return new HitchError(code, {}, { message: t.error_message ?? 'the compute host failed the request' });
}
