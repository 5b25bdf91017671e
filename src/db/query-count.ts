/**
 * Count the statements Hitch sends to its database (begin and commit included), whatever the
 * dialect: the driver is wrapped, so every path — query builder, raw SQL, migrations,
 * transactions — is seen. The bench reports statements per attach from it; the cost is one
 * increment a statement.
 */
import type { DatabaseConnection, Dialect, Driver } from 'kysely';

export interface QueryStats {
  /** Statements executed since the database was opened. */
  readonly queries: number;
  /**
   * Call `fn` with each statement's SQL and parameters as it is sent, until the returned function
   * is called (the list-plan test EXPLAINs what each route really sends).
   */
  watch(fn: (sql: string, parameters: readonly unknown[]) => void): () => void;
}

export class QueryCounter implements QueryStats {
  queries = 0;
  readonly #watchers = new Set<(sql: string, parameters: readonly unknown[]) => void>();
  watch(fn: (sql: string, parameters: readonly unknown[]) => void): () => void {
    this.#watchers.add(fn);
    return () => void this.#watchers.delete(fn);
  }
  /** One statement sent. */
  sent(q: { readonly sql: string; readonly parameters: readonly unknown[] }): void {
    this.queries++;
    if (this.#watchers.size > 0) for (const w of this.#watchers) w(q.sql, q.parameters);
  }
}

class CountingConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    readonly counter: QueryCounter,
  ) {}
  executeQuery: DatabaseConnection['executeQuery'] = (q) => {
    this.counter.sent(q);
    return this.inner.executeQuery(q);
  };
  streamQuery: DatabaseConnection['streamQuery'] = (q, chunkSize) => {
    this.counter.sent(q);
    return this.inner.streamQuery(q, chunkSize);
  };
}

class CountingDriver implements Driver {
  readonly #inner: Driver;
  readonly #counter: QueryCounter;
  readonly #wrapped = new WeakMap<DatabaseConnection, CountingConnection>();
  constructor(inner: Driver, counter: QueryCounter) {
    this.#inner = inner;
    this.#counter = counter;
  }
  #unwrap(c: DatabaseConnection): DatabaseConnection {
    return c instanceof CountingConnection ? c.inner : c;
  }
  init(): Promise<void> {
    return this.#inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    const c = await this.#inner.acquireConnection();
    let w = this.#wrapped.get(c);
    if (!w) this.#wrapped.set(c, (w = new CountingConnection(c, this.#counter)));
    return w;
  }
  beginTransaction: Driver['beginTransaction'] = (c, s) => (this.#counter.queries++, this.#inner.beginTransaction(this.#unwrap(c), s));
  commitTransaction: Driver['commitTransaction'] = (c) => (this.#counter.queries++, this.#inner.commitTransaction(this.#unwrap(c)));
  rollbackTransaction: Driver['rollbackTransaction'] = (c) => (this.#counter.queries++, this.#inner.rollbackTransaction(this.#unwrap(c)));
  savepoint: NonNullable<Driver['savepoint']> = (c, n, q) => {
    if (!this.#inner.savepoint) throw new Error('savepoints are not supported by this dialect');
    this.#counter.queries++;
    return this.#inner.savepoint(this.#unwrap(c), n, q);
  };
  rollbackToSavepoint: NonNullable<Driver['rollbackToSavepoint']> = (c, n, q) => {
    if (!this.#inner.rollbackToSavepoint) throw new Error('savepoints are not supported by this dialect');
    this.#counter.queries++;
    return this.#inner.rollbackToSavepoint(this.#unwrap(c), n, q);
  };
  releaseSavepoint: NonNullable<Driver['releaseSavepoint']> = (c, n, q) => {
    if (!this.#inner.releaseSavepoint) throw new Error('savepoints are not supported by this dialect');
    this.#counter.queries++;
    return this.#inner.releaseSavepoint(this.#unwrap(c), n, q);
  };
  releaseConnection(c: DatabaseConnection): Promise<void> {
    return this.#inner.releaseConnection(this.#unwrap(c));
  }
  destroy(): Promise<void> {
    return this.#inner.destroy();
  }
}

/** `dialect` with every statement counted in `counter`. */
export function countingDialect(dialect: Dialect, counter: QueryCounter): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new CountingDriver(dialect.createDriver(), counter),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}
