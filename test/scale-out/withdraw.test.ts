/**
 * A request the agent did not take in time: the API answers 409 only once the task can no longer
 * run. Before, the task stayed `queued` after the 409 and an agent that came back ran it — the
 * user was told the attach failed, and got it anyway.
 *
 * Deadlines run on a virtual clock (no real waiting); the race between the API's withdrawal and
 * an agent's claim is in SQL, so it runs on both databases, on PostgreSQL with the claim's
 * transaction held open while the withdrawal waits on its row lock.
 */
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { HitchError } from '../../src/errors.ts';
import { QueueDispatch } from '../../src/compute/queue-dispatch.ts';
import { TaskQueue } from '../../src/compute/queue.ts';
import { migrateCompute, type ComputeTables } from '../../src/compute/schema.ts';
import type { ServerRow } from '../../src/compute/repository.ts';
import { VirtualClock } from '../../src/sim/clock.ts';
import { describeEachDialect } from '../../src/test-support/dialects.ts';

/** The BDM row an agent reports with its answer (the API process reads every field of it back). */
const BDM = {
  id: 'bdm-1',
  server_id: 'server-1',
  volume_id: 'volume-1',
  device_name: '/dev/vdb',
  attachment_id: null,
  status: 'attaching',
  connection_info: null,
  device_info: null,
  cinder_flow: 'attachments',
  created_at: '2026-12-05T19:00:00.000Z',
  updated_at: null,
  boot_index: null,
  delete_on_termination: null,
  source_type: null,
  image_id: null,
  volume_size: null,
  volume_type: null,
  tag: null,
};

const HOST = 'compute-1';
const server = { id: 'server-1', host: HOST, project_id: 'p' } as ServerRow;
const meta = { requestId: 'req-1', projectId: 'p' };
const DEADLINE = 30_000;

/** Let real I/O (a database round trip) finish between virtual steps: a turn of the event loop, no timing. */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Move virtual time in steps until `p` settles (each step lets the dispatch's database reads complete). */
async function drive<T>(clock: VirtualClock, p: Promise<T>): Promise<T | HitchError> {
  let settled = false;
  const out = p.then(
    (v) => v,
    (e: unknown) => {
      if (e instanceof HitchError) return e;
      throw e;
    },
  );
  void out.finally(() => (settled = true));
  for (let i = 0; i < 100_000 && !settled; i++) {
    await clock.advance(50);
    await turn();
  }
  return out;
}

/** Bounded wait on the database's own state (another connection's progress); it times nothing. */
async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 4000; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describeEachDialect('a request the agent did not take in time', (ctx) => {
  const setUp = async () => {
    const h = await ctx.open();
    await migrateCompute(h.db);
    const db = h.db as unknown as Kysely<ComputeTables>;
    const queue = new TaskQueue(h.db, ctx.dialect);
    await queue.heartbeat(HOST, 'agent-1');
    const clock = new VirtualClock({ autoAdvance: false });
    const dispatch = new QueueDispatch({ queue, clock, acceptDeadlineMs: DEADLINE, staleMs: 3_600_000 });
    const tasks = () => db.selectFrom('compute_tasks').selectAll().execute();
    return { h, db, queue, clock, dispatch, tasks };
  };

  it('is withdrawn before the 409: no agent can claim it afterwards, and its row says why', async () => {
    const { queue, clock, dispatch, tasks } = await setUp();
    const r = await drive(clock, dispatch.attach(server, 'volume-1', null, meta));
    expect(r).toBeInstanceOf(HitchError);
    const e = r as HitchError;
    expect(e.code).toBe('HITCH_COMPUTE_HOST_DOWN');
    expect(e.status).toBe(409);
    // The agent comes back: there is nothing for it to run.
    expect(await queue.claim(HOST, 'agent-2')).toBeUndefined();
    expect(e.message).toContain(HOST);
    expect(e.message).toContain('will not run');
    const [t] = await tasks();
    expect(t?.state).toBe('failed');
    expect(t?.error_code).toBe('HITCH_COMPUTE_HOST_DOWN');
    expect(t?.claimed_by).toBeNull();
    // The same for a server's deletion (its deadline is the operation's).
    const d = await drive(clock, dispatch.destroy(server));
    expect((d as HitchError).code).toBe('HITCH_COMPUTE_HOST_DOWN');
    expect(await queue.claim(HOST, 'agent-2')).toBeUndefined();
    expect((await tasks()).map((x) => x.state)).toEqual(['failed', 'failed']);
  });

  it('answered in time is not withdrawn: a task taken before the deadline is the agent\'s', async () => {
    const { queue, clock, dispatch, tasks } = await setUp();
    const p = dispatch.attach(server, 'volume-1', null, meta);
    await until('the task queued', async () => (await tasks()).length === 1);
    const t = await queue.claim(HOST, 'agent-1');
    expect(t).toBeDefined();
    await queue.update(t!.id, 'reserved', { operationId: 'op-1', bdm: BDM });
    const h = await drive(clock, p);
    expect(h).not.toBeInstanceOf(HitchError);
    expect((await tasks())[0]?.state).toBe('reserved');
  });

  it('claimed by an agent just as the deadline passes: the agent\'s answer is the answer, not a 409', async () => {
    const { h, queue, clock, dispatch, tasks } = await setUp();
    const p = dispatch.attach(server, 'volume-1', null, meta);
    await until('the task queued', async () => (await tasks()).length === 1);
    let claimed: string | undefined;
    if (ctx.dialect === 'postgres') {
      // The agent's claim, its transaction still open when the deadline passes: the API's
      // withdrawal must wait for it, then find the task taken.
      let commit!: () => void;
      const committed = new Promise<void>((r) => (commit = r));
      const agentTx = h.db.transaction().execute(async (trx) => {
        const t = await new TaskQueue(trx, 'postgres').claim(HOST, 'agent-1');
        claimed = t?.id;
        await committed;
      });
      await until('the claim made', async () => claimed !== undefined);
      const answer = drive(clock, p);
      // The withdrawal is blocked on the claimed row's lock.
      await until('the withdrawal waiting on the claim', async () => {
        const w = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
                                           where wait_event_type = 'Lock' and query like '%compute_tasks%' and datname = current_database()`.execute(h.db);
        return (w.rows[0]?.n ?? 0) > 0;
      });
      commit();
      await agentTx;
      await queue.update(claimed!, 'reserved', { operationId: 'op-1', bdm: BDM });
      const r = await answer;
      expect(r).not.toBeInstanceOf(HitchError);
      expect((r as { operationId: string }).operationId).toBe('op-1');
    } else {
      // One writer: the claim lands just before the deadline, the withdrawal just after finds it taken.
      await clock.advance(DEADLINE - 100);
      await turn();
      claimed = (await queue.claim(HOST, 'agent-1'))?.id;
      expect(claimed).toBeDefined();
      const answer = drive(clock, p);
      // Past the deadline the API is still waiting (the task is the agent's): it reserves.
      await until('the deadline passed', async () => {
        await turn();
        return clock.now() > DEADLINE + 1_000;
      });
      await queue.update(claimed!, 'reserved', { operationId: 'op-1', bdm: BDM });
      const r = await answer;
      expect(r).not.toBeInstanceOf(HitchError);
      expect((r as { operationId: string }).operationId).toBe('op-1');
    }
    const [t] = await tasks();
    expect(t?.state).toBe('reserved');
    expect(t?.claimed_by).toBe('agent-1');
  });
});
