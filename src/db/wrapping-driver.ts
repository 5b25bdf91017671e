/**
 * A Kysely driver over another one, whose connections wrap the inner driver's: what the
 * busy-retry driver (`busy.ts`) and the fault-injecting one (`faults.ts`) share. The wrapper of a
 * connection is made once and kept; the inner driver always gets its own connection back; every
 * member a subclass does not override passes straight through.
 */
import type { DatabaseConnection, Dialect, Driver } from 'kysely';

export abstract class WrappingDriver<C extends DatabaseConnection & { readonly inner: DatabaseConnection }> implements Driver {
  protected readonly inner: Driver;
  readonly #wrapped = new WeakMap<DatabaseConnection, C>();
  readonly #mine = new WeakSet<DatabaseConnection>();

  constructor(inner: Driver) {
    this.inner = inner;
  }

  /** The wrapper of one of the inner driver's connections (made once per connection). */
  protected abstract wrap(c: DatabaseConnection): C;

  /** The inner driver's own connection behind `c`. */
  protected unwrap(c: DatabaseConnection): DatabaseConnection {
    return this.#mine.has(c) ? (c as C).inner : c;
  }

  init(): Promise<void> {
    return this.inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    const c = await this.inner.acquireConnection();
    let w = this.#wrapped.get(c);
    if (!w) {
      w = this.wrap(c);
      this.#wrapped.set(c, w);
      this.#mine.add(w);
    }
    return w;
  }
  beginTransaction: Driver['beginTransaction'] = (c, s) => this.inner.beginTransaction(this.unwrap(c), s);
  commitTransaction: Driver['commitTransaction'] = (c) => this.inner.commitTransaction(this.unwrap(c));
  rollbackTransaction: Driver['rollbackTransaction'] = (c) => this.inner.rollbackTransaction(this.unwrap(c));
  savepoint: NonNullable<Driver['savepoint']> = (c, n, q) => {
    if (!this.inner.savepoint) throw new Error('savepoints are not supported by this dialect');
    return this.inner.savepoint(this.unwrap(c), n, q);
  };
  rollbackToSavepoint: NonNullable<Driver['rollbackToSavepoint']> = (c, n, q) => {
    if (!this.inner.rollbackToSavepoint) throw new Error('savepoints are not supported by this dialect');
    return this.inner.rollbackToSavepoint(this.unwrap(c), n, q);
  };
  releaseSavepoint: NonNullable<Driver['releaseSavepoint']> = (c, n, q) => {
    if (!this.inner.releaseSavepoint) throw new Error('savepoints are not supported by this dialect');
    return this.inner.releaseSavepoint(this.unwrap(c), n, q);
  };
  releaseConnection(c: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(this.unwrap(c));
  }
  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** `dialect` with its driver wrapped by `wrap`. */
export function wrapDialect(dialect: Dialect, wrap: (inner: Driver) => Driver): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => wrap(dialect.createDriver()),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}
