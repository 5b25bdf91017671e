import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPgBin, peerRequired, startPostgres, type PgCluster } from '../test-support/postgres.ts';
import { ReusingPool } from './pg-reuse.ts';

const missing = !findPgBin() && !process.env.HITCH_TEST_PG_URL;
const d = missing && !peerRequired() ? describe.skip : describe;

d('ReusingPool (PostgreSQL)', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  afterAll(async () => {
    await cluster.stop();
  });

  const backendPid = async (c: pg.PoolClient): Promise<number> => (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid ?? -1;

  it('hands a returned client straight back, and opens no more than max connections', async () => {
    const inner = new pg.Pool({ connectionString: await cluster.createDatabase(), max: 2 });
    const pool = new ReusingPool(inner, 2);
    try {
      const a = await pool.connect();
      const pid = await backendPid(a);
      a.release();
      const again = await pool.connect();
      expect(again).toBe(a);
      expect(await backendPid(again)).toBe(pid);
      const b = await pool.connect();
      // Both connections are out: a third caller waits for one to come back.
      let third: pg.PoolClient | null = null;
      const waiting = pool.connect().then((c) => (third = c));
      await new Promise((r) => setImmediate(r));
      expect(third).toBeNull();
      b.release();
      expect(await waiting).toBe(b);
      expect(inner.totalCount).toBe(2);
      again.release();
      b.release();
    } finally {
      await pool.end();
    }
    expect(inner.totalCount).toBe(0);
  });

  it('replaces a client returned with an error, and one whose connection died', async () => {
    const inner = new pg.Pool({ connectionString: await cluster.createDatabase(), max: 1 });
    const pool = new ReusingPool(inner, 1);
    try {
      const a = await pool.connect();
      const first = await backendPid(a);
      a.release(new Error('broken'));
      const b = await pool.connect();
      const second = await backendPid(b);
      expect(second).not.toBe(first);
      b.release();
      // Kill the backend of the idle client: its error event gives it back for good.
      const killer = new pg.Client({ connectionString: await cluster.createDatabase() });
      await killer.connect();
      const died = new Promise<void>((r) => b.once('error', () => r()));
      await killer.query('select pg_terminate_backend($1)', [second]);
      await killer.end();
      await died;
      const c = await pool.connect();
      expect(await backendPid(c)).not.toBe(second);
      c.release();
    } finally {
      await pool.end();
    }
  });

  it('does not reuse a client whose connection broke during a query', async () => {
    const pool = new ReusingPool(new pg.Pool({ connectionString: await cluster.createDatabase(), max: 1 }), 1);
    try {
      const a = await pool.connect();
      const pid = await backendPid(a);
      a.on('error', () => undefined);
      const killer = new pg.Client({ connectionString: await cluster.createDatabase() });
      await killer.connect();
      const slow = a.query('select pg_sleep(5)').then(
        () => null,
        (e: unknown) => e,
      );
      await killer.query('select pg_terminate_backend($1)', [pid]);
      await killer.end();
      expect(await slow).toBeInstanceOf(Error);
      a.release();
      const b = await pool.connect();
      expect(await backendPid(b)).not.toBe(pid);
      b.release();
    } finally {
      await pool.end();
    }
  });

  it('refuses new work once ended, and rejects the callers still waiting', async () => {
    const pool = new ReusingPool(new pg.Pool({ connectionString: await cluster.createDatabase(), max: 1 }), 1);
    const a = await pool.connect();
    const waiting = pool.connect();
    const ended = pool.end();
    await expect(waiting).rejects.toThrow(/closed/);
    a.release();
    await ended;
    await expect(pool.connect()).rejects.toThrow(/closed/);
  });
});
