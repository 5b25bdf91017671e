/**
 * Issue 23, deliver 5, on PostgreSQL: when every connection of a process's pool is taken (here:
 * by requests blocked behind another session's table lock), a request that cannot get one waits
 * `databasePoolWaitMs`, then gets 503 with `Retry-After` in the service's error body — not a
 * 500, and not a wait without end. Before, pg's pool queued it for ever: the request hung as long
 * as the lock (the test's 503 never came). Once the lock goes, every request is served again.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPgBin, peerRequired, startPostgres, type PgCluster } from '../../src/test-support/postgres.ts';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';

const missing = !findPgBin() && !process.env['HITCH_TEST_PG_URL'];
if (missing && !peerRequired()) console.warn('[hitch] skipping the PostgreSQL pool test: PostgreSQL not installed (scripts/install-test-peers.sh)');

(missing && !peerRequired() ? describe.skip : describe)('PostgreSQL pool exhausted', () => {
  let cluster: PgCluster;
  let url: string;
  let t: TestCloud;
  beforeAll(async () => {
    cluster = await startPostgres();
    url = await cluster.createDatabase();
    t = await startTestCloud({ databaseUrl: url, databasePoolSize: 2, databasePoolWaitMs: 300 });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await cluster?.stop();
  });

  it('a request that finds no free connection gets 503 with Retry-After; the others are served once the pool frees', async () => {
    const { token, projectId } = await t.token('demo');
    expect((await t.api('GET', `/volume/v3/${projectId}/volumes`, { token })).status).toBe(200);

    // Another session locks the volumes table: each list holds its connection until the lock goes.
    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE volumes IN ACCESS EXCLUSIVE MODE');
      const pending = Array.from({ length: 6 }, () => t.api('GET', `/volume/v3/${projectId}/volumes`, { token }));
      // The two connections are taken by lists waiting on the lock: the other four give up.
      const settled = await Promise.race([
        Promise.allSettled(pending).then(() => 'all'),
        new Promise<string>((resolve) => {
          const check = async (): Promise<void> => {
            const done = await Promise.all(pending.map((p) => Promise.race([p.then((r) => r.status), new Promise<number>((r) => setTimeout(() => r(0), 50))])));
            if (done.filter((s) => s === 503).length >= 4) resolve('four 503');
            else void check();
          };
          void check();
        }),
      ]);
      expect(settled).toBe('four 503');
      await locker.query('COMMIT');
      const answers = await Promise.all(pending);
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses).toEqual([200, 200, 503, 503, 503, 503]);
      for (const a of answers.filter((x) => x.status === 503)) {
        expect(Number(a.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(a.body.serviceUnavailable.code).toBe(503);
        expect(a.body.serviceUnavailable.message).toContain('No PostgreSQL connection came free within 300 ms: all 2 of this process are in use');
      }
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    // The pool is whole again.
    expect((await t.api('GET', `/volume/v3/${projectId}/volumes`, { token })).status).toBe(200);
  });
});
