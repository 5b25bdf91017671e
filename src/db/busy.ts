/**
 * SQLite locked by another process — a backup, an operator's `sqlite3` with `BEGIN EXCLUSIVE`,
 * a second Hitch on the same file. better-sqlite3 waits for the lock synchronously, inside
 * SQLite's busy timeout, and the whole process waits with it: every request, `/healthz` too. So
 * the busy timeout is short (`SQLITE_BUSY_TIMEOUT_MS`), and a statement that still finds the
 * database locked is tried again asynchronously, with back-off, while the event loop serves
 * everything else; after `maxWaitMs` it gives up with HITCH_DATABASE_BUSY: 503 with
 * `Retry-After`, in the service's own error body — never a 500.
 *
 * Trying the one statement again is safe: SQLITE_BUSY means it did not run. A transaction whose
 * statement gives up is rolled back by Kysely as for any other error.
 */
import type { DatabaseConnection, Dialect, Driver, QueryResult } from 'kysely';
import { HitchError } from '../errors.ts';
import { WrappingDriver, wrapDialect } from './wrapping-driver.ts';

/** How long one attempt may block the event loop inside SQLite. */
export const SQLITE_BUSY_TIMEOUT_MS = 20;

export interface BusyRetryOptions {
  /** How long a statement may wait for the lock in all (default 5 s). */
  readonly maxWaitMs: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * A full disk (ENOSPC inside SQLite) or a failing one is the machine's fault, not a bug: 503 with
 * `Retry-After`, in the catalog's words. SQLite rolled the statement (and its transaction) back.
 */
function writeFailed(e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('SQLITE_FULL') || code.startsWith('SQLITE_IOERR'))) {
    return new HitchError('HITCH_DATABASE_WRITE_FAILED', { detail: `${(e as Error).message} (${code})`, retryAfter: 5 }, { cause: e });
  }
  return e;
}

async function withRetry<T>(o: Required<BusyRetryOptions>, run: () => Promise<T>): Promise<T> {
  const start = o.now();
  for (let delay = 5; ; delay = Math.min(delay * 2, 250)) {
    try {
      return await run();
    } catch (e) {
      if (!isBusy(e)) throw writeFailed(e);
      const left = o.maxWaitMs - (o.now() - start);
      if (left <= 0) throw new HitchError('HITCH_DATABASE_BUSY', { waitedMs: o.now() - start, retryAfter: 1 }, { cause: e });
      await o.sleep(Math.min(delay, left));
    }
  }
}

class BusyRetryConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    readonly o: Required<BusyRetryOptions>,
  ) {}
  executeQuery<R>(q: Parameters<DatabaseConnection['executeQuery']>[0]): Promise<QueryResult<R>> {
    return withRetry(this.o, () => this.inner.executeQuery<R>(q));
  }
  streamQuery: DatabaseConnection['streamQuery'] = (q, chunkSize) => this.inner.streamQuery(q, chunkSize);
}

class BusyRetryDriver extends WrappingDriver<BusyRetryConnection> {
  readonly #o: Required<BusyRetryOptions>;
  constructor(inner: Driver, o: Required<BusyRetryOptions>) {
    super(inner);
    this.#o = o;
  }
  protected wrap(c: DatabaseConnection): BusyRetryConnection {
    return new BusyRetryConnection(c, this.#o);
  }
  // BEGIN (deferred) takes no lock; COMMIT can meet one (a checkpoint): it is tried again too.
  override beginTransaction: Driver['beginTransaction'] = (c, s) => this.inner.beginTransaction(this.unwrap(c), s).catch((e: unknown) => Promise.reject(writeFailed(e)));
  override commitTransaction: Driver['commitTransaction'] = (c) => withRetry(this.#o, () => this.inner.commitTransaction(this.unwrap(c)));
  // SQLite rolls a transaction back by itself after a full disk or an I/O error; the ROLLBACK that
  // follows then fails with "no transaction is active" and would hide the error that matters.
  override rollbackTransaction: Driver['rollbackTransaction'] = (c) =>
    this.inner.rollbackTransaction(this.unwrap(c)).catch((e: unknown) => {
      if (!(e instanceof Error && /no transaction is active/.test(e.message))) throw e;
    });
}

/** `dialect` (SQLite's) with each statement tried again while the database is locked elsewhere. */
export function busyRetryDialect(dialect: Dialect, opts: BusyRetryOptions): Dialect {
  const o: Required<BusyRetryOptions> = { now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)), ...opts };
  return wrapDialect(dialect, (inner) => new BusyRetryDriver(inner, o));
}
