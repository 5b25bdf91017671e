/**
 * Hot statements built and compiled once. Kysely rebuilds its immutable query tree and compiles
 * it to SQL on every call — for Hitch's one-row statements that is most of a statement's CPU.
 * `prepared(build)` runs `build` once per dialect with placeholder arguments, keeps the SQL and
 * where each argument lands among the parameters, and afterwards only fills in the values and
 * hands Kysely the compiled query (on any `Kysely` or transaction of the same database).
 *
 * `build` must use its arguments only as values (never to choose the query's shape), and each
 * argument must reach the query as one parameter: for a shape that varies (the number of rows of
 * an insert, the columns of an update) give the variant a key of its own (`prepared.keyed`).
 */
import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from 'kysely';
import { ARG_MARK as MARK, SEAL_TAG } from './prepared-mark.ts';
import { SealedColumnsPlugin } from './sealed-columns.ts';

interface Compiled {
  readonly sql: string;
  /** Per parameter: the index of the argument that fills it, or a constant of the query. */
  readonly slots: ReadonlyArray<number | { readonly constant: unknown }>;
  /** Argument indexes written to a secret column: sealed at each run (sealed-columns.ts). */
  readonly sealed: ReadonlySet<number>;
}

// Any Kysely instance or transaction: only the executor (dialect) and executeQuery are used.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export class Prepared<A extends readonly unknown[], R = unknown> {
  readonly #build: (db: AnyDb, ...args: A) => Compilable<R>;
  readonly #arity: number;
  /** By the database's adapter, which its transactions share: one compile per dialect. */
  readonly #byDialect = new WeakMap<object, Compiled>();

  constructor(arity: number, build: (db: AnyDb, ...args: A) => Compilable<R>) {
    this.#arity = arity;
    this.#build = build;
  }

  #compiled(db: AnyDb): Compiled {
    const key = db.getExecutor().adapter;
    let c = this.#byDialect.get(key);
    if (!c) {
      const marks = Array.from({ length: this.#arity }, (_, i) => `${MARK}${i}`);
      const q = this.#build(db, ...(marks as unknown as A)).compile();
      const seen = new Set<number>();
      const sealed = new Set<number>();
      const slots = q.parameters.map((p) => {
        if (typeof p === 'string' && p.startsWith(MARK)) {
          const tagged = p.endsWith(SEAL_TAG);
          const i = Number(p.slice(MARK.length, tagged ? -SEAL_TAG.length : undefined));
          if (tagged) sealed.add(i);
          seen.add(i);
          return i;
        }
        return { constant: p };
      });
      if (seen.size !== this.#arity) throw new Error(`prepared query: ${this.#arity - seen.size} argument(s) did not become parameters: ${q.sql}`);
      c = { sql: q.sql, slots, sealed };
      this.#byDialect.set(key, c);
    }
    return c;
  }

  execute(db: AnyDb, ...args: A): Promise<QueryResult<R>> {
    const c = this.#compiled(db);
    const seal = c.sealed.size > 0 ? db.getExecutor().plugins.find((p) => p instanceof SealedColumnsPlugin) : undefined;
    const params = c.slots.map((s) => (typeof s !== 'number' ? s.constant : seal && c.sealed.has(s) ? seal.sealArgument(args[s]) : args[s]));
    return db.executeQuery(CompiledQuery.raw(c.sql, params) as CompiledQuery<R>);
  }
}

/** One statement, compiled once per dialect. `arity`: how many arguments `build` takes after `db`. */
export function prepared<A extends readonly unknown[], R = unknown>(arity: number, build: (db: AnyDb, ...args: A) => Compilable<R>): Prepared<A, R> {
  return new Prepared(arity, build);
}

/** A family of statements whose shape depends on a key (row count, set of columns). */
export function preparedByKey<K, A extends readonly unknown[], R = unknown>(make: (key: K) => Prepared<A, R>): (key: K) => Prepared<A, R> {
  const cache = new Map<K, Prepared<A, R>>();
  return (key) => {
    let p = cache.get(key);
    if (!p) cache.set(key, (p = make(key)));
    return p;
  };
}
