/**
 * Keyset pagination over a total order, shared by the list APIs (volumes, servers): the order's
 * keys end in the row's id, so a marker row is a position in it, and the next page is the rows
 * strictly after it — written so that an index on the first key can start at the marker rather
 * than read and filter every row before it.
 *
 * NULLs sort first ascending and last descending on both dialects (SQLite's own order; on
 * PostgreSQL the indexes of nullable keys are built `ASC NULLS FIRST`, and the clause is written
 * for nullable keys only: PostgreSQL matches an index to `ORDER BY x DESC NULLS LAST` only when
 * the index was built that way, whatever the column's NOT NULL says).
 */
import { sql, type Expression, type SqlBool } from 'kysely';

export interface KeysetKey {
  readonly column: string;
  readonly dir: 'asc' | 'desc';
  /** The column may hold NULL. */
  readonly nullable: boolean;
}

const ref = (c: string) => sql.ref(c);
const and = (xs: Expression<SqlBool>[]): Expression<SqlBool> => (xs.length === 1 ? (xs[0] as Expression<SqlBool>) : sql<SqlBool>`(${sql.join(xs, sql` and `)})`);
const or = (xs: Expression<SqlBool>[]): Expression<SqlBool> => (xs.length === 0 ? sql<SqlBool>`1 = 0` : sql<SqlBool>`(${sql.join(xs, sql` or `)})`);

/**
 * The conditions for "strictly after `marker` in the order `keys`": the first key's range (an
 * index can start there), then the exact condition. `value(column)` reads the marker row.
 */
export function afterMarker(keys: readonly KeysetKey[], value: (column: string) => unknown): Expression<SqlBool>[] {
  const out: Expression<SqlBool>[] = [];
  const first = keys[0];
  if (!first) return out;
  const fv = value(first.column);
  // (Descending, a nullable key's NULLs come after every value: no single range holds them.)
  if (fv !== null && first.dir === 'asc') out.push(sql<SqlBool>`${ref(first.column)} >= ${fv}`);
  else if (fv !== null && !first.nullable) out.push(sql<SqlBool>`${ref(first.column)} <= ${fv}`);
  const ors: Expression<SqlBool>[] = [];
  for (let i = 0; i < keys.length; i++) {
    const ands: Expression<SqlBool>[] = [];
    for (let j = 0; j < i; j++) {
      const k = keys[j] as KeysetKey;
      const mv = value(k.column);
      ands.push(mv === null ? sql<SqlBool>`${ref(k.column)} is null` : sql<SqlBool>`${ref(k.column)} = ${mv}`);
    }
    const k = keys[i] as KeysetKey;
    const v = value(k.column);
    if (v === null) {
      // NULLs first ascending: anything non-null is after. Descending, nothing is after a NULL
      // but other NULLs, which the next key orders.
      if (k.dir === 'asc') ands.push(sql<SqlBool>`${ref(k.column)} is not null`);
      else continue;
    } else if (k.dir === 'desc' && k.nullable) {
      ands.push(sql<SqlBool>`(${ref(k.column)} < ${v} or ${ref(k.column)} is null)`);
    } else {
      ands.push(k.dir === 'asc' ? sql<SqlBool>`${ref(k.column)} > ${v}` : sql<SqlBool>`${ref(k.column)} < ${v}`);
    }
    ors.push(and(ands));
  }
  out.push(or(ors));
  return out;
}

/** The ORDER BY items of `keys` (one per key, to pass to `orderBy` in turn), NULLs placed as above. */
export function orderItems(keys: readonly KeysetKey[]) {
  return keys.map((k) =>
    k.nullable ? (k.dir === 'asc' ? sql`${ref(k.column)} asc nulls first` : sql`${ref(k.column)} desc nulls last`) : k.dir === 'asc' ? sql`${ref(k.column)} asc` : sql`${ref(k.column)} desc`,
  );
}

/**
 * `keys` made total: `created_at` then the id appended (each unless already there), in the last
 * key's direction — the tie-breakers Cinder and Nova page with. Every list index ends in
 * (created_at, id), so one index per column serves both "sort by it" and "filter on it, newest
 * first".
 */
export function totalOrder(keys: readonly KeysetKey[], id = 'id', created = 'created_at'): KeysetKey[] {
  const out = [...keys];
  const dir = (): 'asc' | 'desc' => out[out.length - 1]?.dir ?? 'desc';
  if (!out.some((k) => k.column === created || k.column === id)) out.push({ column: created, dir: dir(), nullable: false });
  if (!out.some((k) => k.column === id)) out.push({ column: id, dir: dir(), nullable: false });
  return out;
}
