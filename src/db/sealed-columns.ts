/**
 * The Kysely plugin that keeps CHAP secrets sealed at rest (secret-box.ts): a value written to
 * a sealed column by an insert, an update or an upsert is sealed before it leaves the process;
 * every sealed value in a result is opened on the way back. The repositories above keep reading
 * and writing plain JSON — none of them can forget to seal.
 *
 * Only what the query builder writes is seen here: raw SQL writing a sealed column seals its
 * values itself (the scale-out queue: compute/queue.ts).
 */
import { sql, type Kysely, type KyselyPlugin, type OperationNode, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';
import { ARG_MARK, SEAL_TAG } from './prepared-mark.ts';
import type { Database } from './schema.ts';
import { SEALED_PREFIX, SecretBox } from './secret-box.ts';

/** Table → the columns of it that hold secrets. */
export const SEALED_COLUMNS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  volumes: ['provider_location'],
  snapshots: ['provider_location'],
  attachments: ['connection_info'],
  bdms: ['connection_info'],
  compute_tasks: ['payload', 'result'],
});

interface Named {
  readonly kind: string;
  readonly table?: { readonly identifier?: { readonly name?: string } };
  readonly column?: { readonly name?: string };
}

const tableName = (n: OperationNode | undefined): string | undefined => (n?.kind === 'TableNode' ? (n as Named).table?.identifier?.name : undefined);
const columnName = (n: OperationNode): string | undefined => (n as Named).column?.name;

interface ColumnUpdate extends OperationNode {
  readonly column: OperationNode;
  readonly value: OperationNode;
}

export class SealedColumnsPlugin implements KyselyPlugin {
  readonly #box: SecretBox;

  constructor(box: SecretBox) {
    this.#box = box;
  }

  /** A value bound for a secret column, sealed (a prepared statement's argument marker: tagged, sealed when it runs). */
  #sealValue(v: unknown): unknown {
    if (typeof v === 'string' && v.startsWith(ARG_MARK)) return v + SEAL_TAG;
    return this.sealArgument(v);
  }

  /** A prepared statement's argument for a secret column, sealed. */
  sealArgument(v: unknown): unknown {
    return typeof v === 'string' && !SecretBox.isSealed(v) ? this.#box.seal(v) : v;
  }

  /** A value node (`ValueNode`) with its value sealed; any other node (a column reference, `excluded.x`) as it is. */
  #sealNode(n: OperationNode): OperationNode {
    if (n.kind !== 'ValueNode') return n;
    const v = (n as OperationNode & { value: unknown }).value;
    return { ...n, value: this.#sealValue(v) } as OperationNode;
  }

  #sealUpdates(updates: readonly ColumnUpdate[] | undefined, sealed: readonly string[]): readonly ColumnUpdate[] | undefined {
    return updates?.map((u) => (sealed.includes(columnName(u.column) ?? '') ? { ...u, value: this.#sealNode(u.value) } : u));
  }

  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    if (node.kind === 'InsertQueryNode') {
      const sealed = SEALED_COLUMNS[tableName(node.into) ?? ''];
      if (!sealed) return node;
      const at = (node.columns ?? []).map((c) => sealed.includes(columnName(c) ?? ''));
      let values = node.values;
      if (values?.kind === 'ValuesNode' && at.some(Boolean)) {
        const rows = (values as OperationNode & { values: readonly (OperationNode & { values: readonly unknown[] })[] }).values;
        values = {
          ...values,
          values: rows.map((row) => ({
            ...row,
            values: row.values.map((v, i) => (!at[i] ? v : row.kind === 'PrimitiveValueListNode' ? this.#sealValue(v) : this.#sealNode(v as OperationNode))),
          })),
        } as OperationNode;
      }
      const onConflict = node.onConflict?.updates
        ? { ...node.onConflict, updates: this.#sealUpdates(node.onConflict.updates as readonly ColumnUpdate[], sealed) }
        : node.onConflict;
      return { ...node, ...(values ? { values } : {}), ...(onConflict ? { onConflict } : {}) } as RootOperationNode;
    }
    if (node.kind === 'UpdateQueryNode') {
      const sealed = SEALED_COLUMNS[tableName(node.table) ?? ''];
      if (!sealed || !node.updates) return node;
      return { ...node, updates: this.#sealUpdates(node.updates as readonly ColumnUpdate[], sealed) } as RootOperationNode;
    }
    return node;
  }

  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (!result.rows.some((r) => Object.values(r).some((v) => typeof v === 'string' && SecretBox.isSealed(v)))) return result;
    return {
      ...result,
      rows: result.rows.map((r) => {
        const out: UnknownRow = {};
        for (const [k, v] of Object.entries(r)) out[k] = typeof v === 'string' && SecretBox.isSealed(v) ? this.#box.open(v) : v;
        return out;
      }),
    };
  }
}

/**
 * Seal what an older Hitch left in clear in the secret columns (each row changed only if it
 * still holds what was read); the number sealed. Run at start, after every service's migrations.
 *
 * SQLite leaves an updated row's old bytes in the page's free space, and the WAL keeps the old
 * pages until a checkpoint: `secure_delete` zeroes the freed space while sealing, and a truncating
 * checkpoint afterwards leaves no page with the clear text in hitch.db or its WAL.
 */
export async function sealOldRows(db: Kysely<Database>, box: SecretBox, dialect: 'sqlite' | 'postgres'): Promise<number> {
  let n = 0;
  if (dialect === 'sqlite') await sql`PRAGMA secure_delete = ON`.execute(db);
  try {
    n = await sealEach(db, box);
  } finally {
    if (dialect === 'sqlite') await sql`PRAGMA secure_delete = OFF`.execute(db);
  }
  if (n > 0 && dialect === 'sqlite') await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
  return n;
}

async function sealEach(db: Kysely<Database>, box: SecretBox): Promise<number> {
  let n = 0;
  for (const [table, columns] of Object.entries(SEALED_COLUMNS)) {
    for (const column of columns) {
      const rows = await sql<{ id: string; v: string }>`SELECT id, ${sql.ref(column)} AS v FROM ${sql.table(table)}
        WHERE ${sql.ref(column)} IS NOT NULL AND ${sql.ref(column)} NOT LIKE ${`${SEALED_PREFIX}%`}`.execute(db);
      for (const r of rows.rows) {
        const done = await sql`UPDATE ${sql.table(table)} SET ${sql.ref(column)} = ${box.seal(r.v)} WHERE id = ${r.id} AND ${sql.ref(column)} = ${r.v}`.execute(db);
        n += Number(done.numAffectedRows ?? 0n);
      }
    }
  }
  return n;
}
