/**
 * Database faults on demand, for the deterministic fuzzer and the reliability tests: a disk that
 * fills (SQLITE_FULL, what ENOSPC becomes inside SQLite), a lock another process holds
 * (SQLITE_BUSY) and a failing disk (SQLITE_IOERR), at any statement — a query, a BEGIN or a
 * COMMIT. The errors look like better-sqlite3's own (`SqliteError` with its `code`), so every
 * layer above (the busy retry, Kysely's transactions, the flows' undo, recovery) meets exactly
 * what it meets on a real machine.
 *
 * SQLite rolls back the whole transaction by itself after SQLITE_FULL and SQLITE_IOERR (and the
 * transaction is gone when the caller's ROLLBACK arrives: "cannot rollback - no transaction is
 * active"); after SQLITE_BUSY the statement simply did not run. The wrapper does the same: it
 * rolls back the real transaction before throwing a FULL or IOERR met inside one.
 *
 * Nothing here runs unless a test or the fuzzer passes a `DbFaults` to `openDatabase`.
 */
import { CompiledQuery, type DatabaseConnection, type Dialect, type Driver, type QueryResult } from 'kysely';
import { WrappingDriver, wrapDialect } from './wrapping-driver.ts';

export type DbFaultKind = 'SQLITE_FULL' | 'SQLITE_BUSY' | 'SQLITE_IOERR';

const MESSAGES: Record<DbFaultKind, string> = {
  SQLITE_FULL: 'database or disk is full',
  SQLITE_BUSY: 'database is locked',
  SQLITE_IOERR: 'disk I/O error',
};

/** An error shaped as better-sqlite3's `SqliteError`: a message and SQLite's result code. */
export class InjectedSqliteError extends Error {
  readonly code: DbFaultKind;
  constructor(code: DbFaultKind) {
    super(MESSAGES[code]);
    this.name = 'SqliteError';
    this.code = code;
  }
}

/** Decides, statement by statement, whether it fails and how. */
export interface DbFaults {
  /** The fault for this statement (its SQL; `BEGIN`/`COMMIT` for those), or null to run it. */
  draw(sql: string): DbFaultKind | null;
}

/** Faults drawn at a fixed rate from a random source, switched on and off, and counted. */
export class RandomDbFaults implements DbFaults {
  active = false;
  /** Faults injected so far, by kind. */
  readonly injected: Record<DbFaultKind, number> = { SQLITE_FULL: 0, SQLITE_BUSY: 0, SQLITE_IOERR: 0 };
  constructor(
    readonly rate: number,
    readonly random: () => number,
    readonly kinds: readonly DbFaultKind[] = ['SQLITE_FULL', 'SQLITE_BUSY', 'SQLITE_IOERR'],
  ) {}
  get total(): number {
    return this.injected.SQLITE_FULL + this.injected.SQLITE_BUSY + this.injected.SQLITE_IOERR;
  }
  draw(): DbFaultKind | null {
    if (!this.active || this.rate <= 0 || this.random() >= this.rate) return null;
    const kind = this.kinds[Math.floor(this.random() * this.kinds.length)] ?? 'SQLITE_IOERR';
    this.injected[kind]++;
    return kind;
  }
}

class FaultyConnection implements DatabaseConnection {
  /** Inside BEGIN … COMMIT/ROLLBACK on this connection. */
  inTransaction = false;
  constructor(
    readonly inner: DatabaseConnection,
    readonly faults: DbFaults,
  ) {}
  /** Throw the drawn fault, after rolling back the transaction as SQLite does for FULL and IOERR. */
  async check(sql: string): Promise<void> {
    const kind = this.faults.draw(sql);
    if (kind === null) return;
    if (kind !== 'SQLITE_BUSY' && this.inTransaction) {
      this.inTransaction = false;
      await this.inner.executeQuery(CompiledQuery.raw('rollback'));
    }
    throw new InjectedSqliteError(kind);
  }
  async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    await this.check(q.sql);
    return this.inner.executeQuery<R>(q);
  }
  streamQuery: DatabaseConnection['streamQuery'] = (q, chunkSize) => this.inner.streamQuery(q, chunkSize);
}

class FaultyDriver extends WrappingDriver<FaultyConnection> {
  readonly #faults: DbFaults;
  constructor(inner: Driver, faults: DbFaults) {
    super(inner);
    this.#faults = faults;
  }
  protected wrap(c: DatabaseConnection): FaultyConnection {
    return new FaultyConnection(c, this.#faults);
  }
  override beginTransaction: Driver['beginTransaction'] = async (c, s) => {
    const f = c as FaultyConnection;
    await f.check('begin');
    await this.inner.beginTransaction(this.unwrap(c), s);
    f.inTransaction = true;
  };
  override commitTransaction: Driver['commitTransaction'] = async (c) => {
    const f = c as FaultyConnection;
    await f.check('commit');
    await this.inner.commitTransaction(this.unwrap(c));
    f.inTransaction = false;
  };
  override rollbackTransaction: Driver['rollbackTransaction'] = async (c) => {
    (c as FaultyConnection).inTransaction = false;
    await this.inner.rollbackTransaction(this.unwrap(c));
  };
}

/** `dialect` with each statement first asking `faults` whether it fails. */
export function faultyDialect(dialect: Dialect, faults: DbFaults): Dialect {
  return wrapDialect(dialect, (inner) => new FaultyDriver(inner, faults));
}
