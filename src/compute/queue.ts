/**
 * Scale-out: the work queue between stateless API processes and one agent per compute host,
 * in the shared database. An API process enqueues a task for the server's host; the host's
 * agent claims it (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a conditional update on SQLite),
 * runs it through its compute manager and records the outcome. Agents heartbeat; a host whose
 * heartbeat is stale takes no new servers and its requests fail fast instead of hanging.
 *
 * Waking, not polling (PostgreSQL): an enqueue sends `NOTIFY hitch_tasks, '<host>'` in the same
 * statement, and every state change `NOTIFY hitch_task_states, '<id> <state>'`; a process's one
 * `QueueListener` connection hears them (`queue-listener.ts`). Both are sent at commit, so a
 * woken agent always finds the row. Listeners also poll slowly for what a lost notification or a
 * broken listening connection hid.
 *
 * Exactly once: a task is claimed by one agent (the claim is one conditional statement); an
 * agent that dies mid-task leaves it `running`, and the next agent for that host marks it
 * `failed` after its manager's crash recovery has driven the operation itself to an end — the
 * operation is never run twice, and never left half done.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { ERROR_CATALOG, HitchError, type ErrorCode } from '../errors.ts';
import type { SecretBox } from '../db/secret-box.ts';
import type { ComputeTables, ComputeTaskTable } from './schema.ts';

export type TaskKind = 'spawn' | 'destroy' | 'attach' | 'detach' | 'extend';
export type TaskState = 'queued' | 'running' | 'reserved' | 'done' | 'failed';
export type TaskRow = ComputeTaskTable;

/** NOTIFY channel: work was queued; the payload is the host. */
export const TASKS_CHANNEL = 'hitch_tasks';
/**
 * NOTIFY channel: a task changed state; the payload is `<task id> <state> <result>`, the result
 * (JSON) left out (empty) when it would not fit in a notification: a waiter that heard it needs
 * not read the row.
 */
export const TASK_STATES_CHANNEL = 'hitch_task_states';

const num = (v: unknown): number => Number(v);

/** A task's result as a state notice carries it: whole, or empty when it would not fit (8000 bytes a notice). */
const inNotice = (result: string | null): string => (result !== null && Buffer.byteLength(result) <= 7000 ? result : '');

export class TaskQueue {
  readonly #db: Kysely<ComputeTables>;
  readonly #postgres: boolean;
  readonly #box: SecretBox | undefined;

  /**
   * `box` seals what the raw PostgreSQL statements write (payload, result, and the result in a
   * state notice, which PostgreSQL keeps on disk in its notification queue): the query builder's
   * writes are sealed by the database's plugin (db/sealed-columns.ts), raw SQL is not.
   */
  constructor(db: object, dialect: 'sqlite' | 'postgres', box?: SecretBox) {
    this.#db = db as Kysely<ComputeTables>;
    this.#postgres = dialect === 'postgres';
    this.#box = box;
  }

  #seal(v: string): string;
  #seal(v: string | null): string | null;
  #seal(v: string | null): string | null {
    return v === null || !this.#box ? v : this.#box.seal(v);
  }

  /** A result as a state notice carried it (sealed), opened. */
  openNotice(result: string): string {
    return this.#box ? this.#box.open(result) : result;
  }

  /** Queue a task for `host`; `id` may be chosen by the caller (to wait on it before it exists). */
  async enqueue(host: string, kind: TaskKind, payload: unknown, now = Date.now(), id: string = crypto.randomUUID()): Promise<string> {
    const row = { id, host, kind, payload: JSON.stringify(payload), state: 'queued', result: null, error_code: null, error_message: null, claimed_by: null, created_ms: now, updated_ms: now };
    if (this.#postgres) {
      // One statement: the row and the agent's wake-up, delivered together at commit.
      await sql`WITH t AS (INSERT INTO compute_tasks (id, host, kind, payload, state, created_ms, updated_ms)
                  VALUES (${id}, ${host}, ${kind}, ${this.#seal(row.payload)}, 'queued', ${now}, ${now}) RETURNING host)
                SELECT pg_notify(${TASKS_CHANNEL}, host) FROM t`.execute(this.#db);
      return id;
    }
    await this.#db.insertInto('compute_tasks').values(row).execute();
    return id;
  }

  /**
   * Queue a task for `host` only if its agent heartbeated within `staleMs`; false (nothing
   * queued) when the host is down. On PostgreSQL the check, the row and the agent's wake-up are
   * one statement (a request through the queue spent one round trip on each before): the
   * liveness read is the one `isLive` makes, on the database's clock.
   */
  async enqueueIfLive(host: string, kind: TaskKind, payload: unknown, staleMs: number, now = Date.now(), id: string = crypto.randomUUID()): Promise<boolean> {
    if (this.#postgres) {
      const text = JSON.stringify(payload);
      const r = await sql<{ queued: number }>`WITH live AS (SELECT name FROM compute_hosts WHERE name = ${host}
                    AND heartbeat_ms > (extract(epoch from clock_timestamp()) * 1000)::bigint - ${staleMs}),
                  t AS (INSERT INTO compute_tasks (id, host, kind, payload, state, created_ms, updated_ms)
                    SELECT ${id}, name, ${kind}, ${text}, 'queued', ${now}, ${now} FROM live RETURNING host)
                SELECT 1 AS queued, pg_notify(${TASKS_CHANNEL}, host) FROM t`.execute(this.#db);
      return r.rows.length === 1;
    }
    if (!(await this.isLive(host, staleMs, now))) return false;
    await this.enqueue(host, kind, payload, now, id);
    return true;
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
    const set = {
      state,
      result: result === undefined ? null : JSON.stringify(result),
      error_code: error?.code ?? null,
      error_message: error?.message ?? null,
      updated_ms: now,
    };
    if (this.#postgres) {
      const sealed = this.#seal(set.result);
      // The change and its notice to whoever waits on it, in one statement.
      await sql`WITH t AS (UPDATE compute_tasks SET state = ${set.state}, result = ${sealed}, error_code = ${set.error_code},
                  error_message = ${set.error_message}, updated_ms = ${now} WHERE id = ${id} RETURNING id, state)
                SELECT pg_notify(${TASK_STATES_CHANNEL}, id || ' ' || state || ' ' || ${inNotice(sealed)}::text) FROM t`.execute(this.#db);
      return;
    }
    await this.#db.updateTable('compute_tasks').set(set).where('id', '=', id).execute();
  }

  /**
   * Withdraw a task nobody has claimed: `failed` with `error`, in one conditional statement, so
   * it and a claim exclude each other (PostgreSQL: the claim skips a row this statement holds,
   * and this one, waiting on a claim's lock, finds the row no longer `queued`; SQLite: one
   * writer). True when withdrawn: no agent will ever run it. False when an agent took it first:
   * its outcome is the request's.
   */
  async withdraw(id: string, error: HitchError, now = Date.now()): Promise<boolean> {
    if (this.#postgres) {
      const r = await sql<{ id: string }>`WITH t AS (UPDATE compute_tasks SET state = 'failed', error_code = ${error.code}, error_message = ${error.message},
                  updated_ms = ${now} WHERE id = ${id} AND state = 'queued' RETURNING id, state)
                SELECT id, pg_notify(${TASK_STATES_CHANNEL}, id || ' ' || state || ' ') FROM t`.execute(this.#db);
      return r.rows.length === 1;
    }
    const r = await this.#db
      .updateTable('compute_tasks')
      .set({ state: 'failed', error_code: error.code, error_message: error.message, updated_ms: now })
      .where('id', '=', id)
      .where('state', '=', 'queued')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
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
    await this.heartbeatMany([host], agentId, now);
  }

  /**
   * One heartbeat for every host an agent process serves: one statement however many hosts
   * (an upsert, so a host's first heartbeat registers it). On PostgreSQL the time is the
   * database's, and so is the one liveness is judged by: agents and API processes on machines
   * whose clocks disagree still agree on who is down.
   */
  async heartbeatMany(hosts: readonly string[], agentId: string, now = Date.now()): Promise<void> {
    if (this.#postgres) {
      // The host names as one array parameter, not a VALUES row of four parameters per host: the
      // same upsert, but PostgreSQL parses and plans one small statement instead of one with
      // 4 000 parameters (measured for 1 000 hosts, 2 CPUs at load 15: 6 ms of PostgreSQL CPU
      // and 2 ms of the agent's a heartbeat, against 90 and 8 — every 3 s per agent process).
      await sql`INSERT INTO compute_hosts (name, agent_id, heartbeat_ms, started_ms)
                SELECT h.name, ${agentId}, t.ms, t.ms
                FROM unnest(${[...hosts]}::text[]) AS h(name), (SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS ms) AS t
                ON CONFLICT (name) DO UPDATE SET agent_id = excluded.agent_id, heartbeat_ms = excluded.heartbeat_ms`.execute(this.#db);
      return;
    }
    const at = sql<number>`${now}`;
    for (let i = 0; i < hosts.length; i += 1000) {
      await this.#db
        .insertInto('compute_hosts')
        .values(hosts.slice(i, i + 1000).map((name) => ({ name, agent_id: agentId, heartbeat_ms: at, started_ms: at })))
        .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ agent_id: eb.ref('excluded.agent_id'), heartbeat_ms: eb.ref('excluded.heartbeat_ms') })))
        .execute();
    }
  }

  /** Which of `hosts` have work queued (an agent's slow poll, after a gap in notifications). */
  async queuedHosts(hosts: readonly string[]): Promise<string[]> {
    if (this.#postgres) {
      // One array parameter, as the heartbeat: a small statement whatever the number of hosts.
      const r = await sql<{ host: string }>`SELECT DISTINCT host FROM compute_tasks WHERE state = 'queued' AND host = ANY(${[...hosts]}::text[])`.execute(this.#db);
      return r.rows.map((x) => x.host);
    }
    const out: string[] = [];
    for (let i = 0; i < hosts.length; i += 1000) {
      const rows = await this.#db.selectFrom('compute_tasks').select('host').distinct().where('state', '=', 'queued').where('host', 'in', hosts.slice(i, i + 1000)).execute();
      out.push(...rows.map((r) => r.host));
    }
    return out;
  }

  /** Whether `host`'s agent heartbeated within `staleMs`: one indexed row. */
  async isLive(host: string, staleMs: number, now = Date.now()): Promise<boolean> {
    if (this.#postgres) {
      const r = await sql<{ live: boolean }>`select heartbeat_ms > (extract(epoch from clock_timestamp()) * 1000)::bigint - ${staleMs} as live
                                             from compute_hosts where name = ${host}`.execute(this.#db);
      return r.rows[0]?.live === true;
    }
    const r = await this.#db.selectFrom('compute_hosts').select('heartbeat_ms').where('name', '=', host).executeTakeFirst();
    return r !== undefined && now - num(r.heartbeat_ms) < staleMs;
  }

  /** Hosts whose agent's heartbeat is younger than `staleMs`. */
  async liveHosts(staleMs: number, now = Date.now()): Promise<string[]> {
    const since = this.#postgres ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint - ${staleMs}` : sql<number>`${now - staleMs}`;
    const rows = await this.#db.selectFrom('compute_hosts').select('name').where('heartbeat_ms', '>', since).execute();
    return rows.map((r) => r.name).sort();
  }

  async signOff(host: string, agentId: string): Promise<void> {
    await this.signOffMany([host], agentId);
  }

  /** Mark `hosts` down at once (a graceful stop), where `agentId` still holds them. */
  async signOffMany(hosts: readonly string[], agentId: string): Promise<void> {
    for (let i = 0; i < hosts.length; i += 1000) {
      await this.#db.updateTable('compute_hosts').set({ heartbeat_ms: 0 }).where('name', 'in', hosts.slice(i, i + 1000)).where('agent_id', '=', agentId).execute();
    }
  }
}

/** Rebuild the error an agent recorded, with its catalog status. */
export function taskError(t: Pick<TaskRow, 'error_code' | 'error_message'>): HitchError {
  const code = (t.error_code && t.error_code in ERROR_CATALOG ? t.error_code : 'HITCH_INTERNAL') as ErrorCode;
  return new HitchError(code, {}, { message: t.error_message ?? 'the compute host failed the request' });
}
