/**
 * Traces are one JSON document per operation (migration 0003). A database from before keeps
 * every span of every operation through the migration, and a trace saved afterwards reads back
 * as it was written — on SQLite and on PostgreSQL.
 */
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { ComputeRepository } from '../../src/compute/repository.ts';
import { migrateCompute } from '../../src/compute/schema.ts';
import { describeEachDialect } from '../../src/test-support/dialects.ts';
import type { SpanRecord } from '../../src/trace/span.ts';

const op = (id: string) => ({
  id,
  kind: 'attach',
  server_id: 'srv-1',
  volume_id: `vol-${id}`,
  bdm_id: null,
  project_id: 'p',
  request_id: `req-${id}`,
  state: 'done',
  step: 'complete',
  error_code: null,
  error_message: null,
  started_ms: 1_000,
  ended_ms: 2_000,
});

describeEachDialect('trace documents', (ctx) => {
  it('migration 0003 carries every span row of every operation into its document, then drops the span rows', async () => {
    const { db } = await ctx.open();
    await migrateCompute(db, '0002_queue');
    const repo = new ComputeRepository(db);
    // More operations than one batch of the migration (500), and one with no spans.
    const ids = Array.from({ length: 620 }, (_, i) => `op-${String(i).padStart(4, '0')}`);
    // Rows as the 0002 schema has them (written here, not by the repository, which writes the latest schema).
    const oldDb = db as unknown as import('kysely').Kysely<Record<string, Record<string, unknown>>>;
    for (const id of ids) await oldDb.insertInto('operations').values({ ...op(id), created_at: '2026-01-01T00:00:00.000Z' }).execute();
    const rows = ids.slice(0, 600).flatMap((id, i) => [
      { operation_id: id, span_id: 1, parent_id: null, name: 'attach', start_ms: 1_000, end_ms: 2_000 + i, outcome: 'error', attrs: JSON.stringify({ server: 'srv-1', step: 0 }), error_code: 'HITCH_LOGIN_FAILED', error_message: 'login failed' },
      { operation_id: id, span_id: 2, parent_id: 1, name: 'connect-volume', start_ms: 1_100, end_ms: null, outcome: 'running', attrs: JSON.stringify({ path: `/dev/sd${i}`, ok: true }), error_code: null, error_message: null },
    ]);
    const anyDb = db as unknown as import('kysely').Kysely<Record<string, Record<string, unknown>>>;
    for (let i = 0; i < rows.length; i += 100) await anyDb.insertInto('spans').values(rows.slice(i, i + 100)).execute();

    await migrateCompute(db);
    expect(await repo.loadSpans('op-0007')).toEqual([
      { id: 1, parentId: null, name: 'attach', startMs: 1_000, endMs: 2_007, outcome: 'error', attrs: { server: 'srv-1', step: 0 }, error: { code: 'HITCH_LOGIN_FAILED', message: 'login failed' } },
      { id: 2, parentId: 1, name: 'connect-volume', startMs: 1_100, endMs: null, outcome: 'running', attrs: { path: '/dev/sd7', ok: true } },
    ]);
    expect((await repo.loadSpans('op-0599'))[0]?.endMs).toBe(2_599);
    expect(await repo.loadSpans('op-0610')).toEqual([]);
    const count = await sql<{ n: number | string }>`select count(*) as n from traces`.execute(db);
    expect(Number(count.rows[0]?.n)).toBe(600);
    const left = await sql`select 1 from spans`.execute(db).then(
      () => 'spans table still there',
      () => 'gone',
    );
    expect(left).toBe('gone');
  });

  it('a saved trace reads back as written, a later save replaces it, and it goes with its operation', async () => {
    const { db } = await ctx.open();
    await migrateCompute(db);
    const repo = new ComputeRepository(db);
    await repo.insertOperation(op('op-a'));
    const first: SpanRecord[] = [{ id: 1, parentId: null, name: 'attach', startMs: 5, endMs: null, outcome: 'running', attrs: { device: '/dev/vdb', note: 'quote " and \\ and ünïcode' } }];
    await repo.saveSpans('op-a', first);
    expect(await repo.loadSpans('op-a')).toEqual(first);
    const second: SpanRecord[] = [
      { ...first[0]!, endMs: 9, outcome: 'ok' },
      { id: 2, parentId: 1, name: 'hotplug', startMs: 6, endMs: 8, outcome: 'error', attrs: {}, error: { code: 'HITCH_HOTPLUG_FAILED', message: 'no' } },
    ];
    await repo.saveSpans('op-a', second);
    expect(await repo.loadSpans('op-a')).toEqual(second);
    await sql`delete from operations where id = 'op-a'`.execute(db);
    expect(await repo.loadSpans('op-a')).toEqual([]);
  });
});
