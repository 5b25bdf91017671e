import { expect, it } from 'vitest';
import { describeEachDialect } from '../test-support/dialects.ts';
import { migrate } from './open-database.ts';

describeEachDialect('database', (ctx) => {
  it('applies every migration once, and a second run applies none', async () => {
    const { db } = await ctx.open();
    expect(await migrate(db)).toEqual([]);
    const tables = ['projects', 'users', 'roles', 'role_assignments', 'tokens', 'volume_types', 'volumes', 'attachments'];
    for (const t of tables) {
      // Each table exists and is empty on a fresh database.
      const rows = await db.selectFrom(t as 'volumes').select((eb) => eb.fn.countAll<number>().as('n')).execute();
      expect(Number(rows[0]?.n)).toBe(0);
    }
  });

  it('round-trips text timestamps and 0/1 booleans identically', async () => {
    const { db } = await ctx.open();
    await db.insertInto('hitch_meta').values({ key: 'k', value: '2026-01-01T00:00:00.000000' }).execute();
    const row = await db.selectFrom('hitch_meta').selectAll().where('key', '=', 'k').executeTakeFirstOrThrow();
    expect(row).toEqual({ key: 'k', value: '2026-01-01T00:00:00.000000' });
  });
});
