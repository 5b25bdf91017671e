/**
 * Open Hitch's database from a URL and bring its schema up to date.
 *
 *   sqlite:/var/lib/hitch/hitch.db   a file (the embedded default, under the data directory)
 *   sqlite::memory:                  a private in-memory database (tests)
 *   postgres://user@host:5432/db     PostgreSQL through pg's pool (scale-out)
 *
 * A dialect is Kysely's own; the rest of Hitch sees only `Kysely<Database>` and the
 * capability flags below, never `if (sqlite)`.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type SqliteDatabase } from 'kysely';
import pg from 'pg';
import { HitchError } from '../errors.ts';
import { busyRetryDialect, SQLITE_BUSY_TIMEOUT_MS, type BusyRetryOptions } from './busy.ts';
import { faultyDialect, type DbFaults } from './faults.ts';
import { migrationProvider } from './migrations.ts';
import { ReusingPool } from './pg-reuse.ts';
import { SealedColumnsPlugin } from './sealed-columns.ts';
import { keyFromFile, SecretBox } from './secret-box.ts';
import { postgresStartError } from './postgres-setup.ts';
import { createPrivateFile } from './private-file.ts';
import { checkSqliteFileBeforeOpen, checkSqliteIsHitch, sqliteOpenError } from './sqlite-file.ts';
import { QueryCounter, countingDialect, type QueryStats } from './query-count.ts';
import type { Database } from './schema.ts';

export type DialectName = 'sqlite' | 'postgres';

export interface HitchDb {
  readonly db: Kysely<Database>;
  readonly dialect: DialectName;
  /** Statements sent so far (the bench's queries per attach). */
  readonly stats: QueryStats;
  /** Close every connection (the pool, or the SQLite handle). */
  close(): Promise<void>;
  /** The key that seals the secret columns (db/sealed-columns.ts), for raw SQL that writes them. */
  readonly secrets?: SecretBox;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL pool size; the default suits one API process. */
  readonly poolSize?: number;
  /** PostgreSQL: how long a statement waits for a free connection before HITCH_DATABASE_POOL_TIMEOUT (503); default 5 s. */
  readonly poolWaitMs?: number;
  /** SQLite: how long a statement waits for a lock another process holds before HITCH_DATABASE_BUSY (503); default 5 s. */
  readonly busyWaitMs?: number;
  /** Skip migrations (a tool that only reads). Default false. */
  readonly skipMigrations?: boolean;
  /** SQLite: faults to inject under every statement (the fuzzer, reliability tests; src/db/faults.ts). */
  readonly faults?: DbFaults;
  /** SQLite: the busy retry's clock and pause (the fuzzer's never waits on the wall clock). */
  readonly busyClock?: Pick<BusyRetryOptions, 'now' | 'sleep'>;
  /**
   * The key that seals CHAP secrets in the database. Default: a SQLite file's `secret.key`
   * beside it (made at first open); a key of its own for an in-memory database, and for a
   * PostgreSQL one opened without a key (a tool, a test): a server passes the configured one.
   */
  readonly secrets?: SecretBox;
}

/** Open the database named by `url` and apply pending migrations. */
export async function openDatabase(url: string, opts: OpenDatabaseOptions = {}): Promise<HitchDb> {
  let db: Kysely<Database>;
  let dialect: DialectName;
  const stats = new QueryCounter();
  let secrets = opts.secrets;
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (file !== ':memory:') {
      checkSqliteFileBeforeOpen(file);
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      createPrivateFile(file);
      secrets ??= new SecretBox(keyFromFile(join(dirname(file), 'secret.key')));
    }
    let handle: SQLite.Database | undefined;
    try {
      handle = new SQLite(file === ':memory:' ? ':memory:' : file);
      // WAL lets readers run beside the one writer; busy_timeout covers a second process.
      handle.pragma('journal_mode = WAL');
      if (file !== ':memory:') checkSqliteIsHitch(handle, file);
    } catch (e) {
      handle?.close();
      throw sqliteOpenError(e, file);
    }
    // In WAL mode, NORMAL syncs the log at checkpoints rather than at every commit. A process
    // that dies (SIGKILL, a crash) loses nothing: its commits are in the OS's page cache. A power
    // cut or kernel panic may lose the last commits before the most recent sync — the database
    // stays consistent, the journal may be behind what happened just before the machine died
    // (which took the host's sessions and guests with it). FULL would fsync every statement.
    handle.pragma('synchronous = NORMAL');
    // Short: a lock held by another process is waited for asynchronously (busy.ts), not here.
    handle.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    handle.pragma('foreign_keys = ON');
    const base = new SqliteDialect({ database: statementCache(handle) });
    const faulty = opts.faults ? faultyDialect(base, opts.faults) : base;
    db = new Kysely<Database>({ dialect: countingDialect(busyRetryDialect(faulty, { maxWaitMs: opts.busyWaitMs ?? 5000, ...opts.busyClock }), stats) });
    dialect = 'sqlite';
  } else if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const max = opts.poolSize ?? 10;
    // pg-pool opens and closes the connections; ReusingPool hands a returned one straight back.
    const pool = new ReusingPool(new pg.Pool({ connectionString: url, max }), max, opts.poolWaitMs);
    db = new Kysely<Database>({ dialect: countingDialect(new PostgresDialect({ pool }), stats) });
    dialect = 'postgres';
  } else {
    throw new HitchError('HITCH_INVALID_ARGUMENT', {
      reason: 'database URL must start with sqlite: or postgres://',
    });
  }
  const box = secrets ?? SecretBox.ephemeral();
  db = db.withPlugin(new SealedColumnsPlugin(box));
  if (!opts.skipMigrations) {
    try {
      await migrate(db);
    } catch (e) {
      await db.destroy();
      // The first query is where a missing server, role or database shows: say which, and how to fix it.
      throw dialect === 'postgres' ? postgresStartError(e, url) : sqliteOpenError(e, url.slice('sqlite:'.length));
    }
  }
  return { db, dialect, stats, secrets: box, close: () => db.destroy() };
}

/**
 * The SQLite handle as Kysely sees it, with each statement prepared once: Kysely's driver asks
 * for `prepare(sql)` on every query, and SQLite's parse and plan cost more than the run of most
 * of Hitch's one-row statements. Hitch's SQL text is a small fixed set (values are parameters),
 * so the cache stays small; it is bounded anyway. A cached statement still iterating (a
 * streamed select) is not shared: that query gets a fresh one.
 */
function statementCache(handle: SQLite.Database, max = 500): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => void handle.close(),
    prepare(sql: string) {
      const hit = cache.get(sql);
      if (hit) return hit.busy ? handle.prepare(sql) : hit;
      const stmt = handle.prepare(sql);
      if (cache.size >= max) cache.delete(cache.keys().next().value as string);
      cache.set(sql, stmt);
      return stmt;
    },
  };
}

/** Apply every pending migration; throws with the failing migration's error. */
export async function migrate(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
