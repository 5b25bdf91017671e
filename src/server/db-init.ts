/**
 * `hitch db init`: make a PostgreSQL server ready for a scale-out cloud — Hitch's role and
 * database (as the superuser), then every service's schema (as that role), so the first
 * `hitch api` finds it all in place.
 */
import { migrateCompute } from '../compute/schema.ts';
import { openDatabase } from '../db/open-database.ts';
import { ensureRoleAndDatabase, maskUrl, type SetupResult } from '../db/postgres-setup.ts';
import { HitchError } from '../errors.ts';

export interface InitResult extends SetupResult {
  readonly url: string;
}

export async function initDatabase(opts: { databaseUrl: string; adminUrl: string }): Promise<InitResult> {
  if (!/^postgres(ql)?:\/\//.test(opts.databaseUrl)) {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'hitch db init sets up PostgreSQL: give --database-url postgres://ROLE:PASSWORD@HOST:PORT/DATABASE (SQLite needs no setup)' });
  }
  const setup = await ensureRoleAndDatabase(opts.adminUrl, opts.databaseUrl);
  // As the role itself: the tables are its own.
  const db = await openDatabase(opts.databaseUrl, { poolSize: 1 });
  try {
    await migrateCompute(db.db);
  } finally {
    await db.close();
  }
  return { ...setup, url: maskUrl(opts.databaseUrl) };
}
