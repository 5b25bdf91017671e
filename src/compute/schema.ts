/**
 * The compute service's own tables and migrations. The compute service owns its schema the way
 * Nova owns its database apart from Cinder's: its migrations are recorded in their own table
 * (`compute_migration`), so the block storage and compute schemas evolve independently on the
 * same SQLite file or PostgreSQL database.
 *
 * Column types are the portable ones `db/` uses (text, integer, ISO-8601 text timestamps).
 */
import { Migrator, PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';
import { m0005_catalog, type CatalogTables } from './schema-catalog.ts';

export interface ServerTable {
  id: string;
  project_id: string;
  user_id: string;
  name: string;
  /** Nova's vm_state as the API shows it: BUILD, ACTIVE, ERROR, DELETED. */
  status: string;
  /** A task in progress on the server (`attaching_volume`), or null. */
  task_state: string | null;
  flavor_id: string;
  image_id: string;
  /** The compute host that owns the server (its manager runs the flows). */
  host: string;
  /** The hypervisor's name for it (`instance-0000002a` style). */
  domain_name: string;
  metadata: string;
  created_at: string;
  updated_at: string | null;
  /** JSON copy of the flavor at create (`ServerFlavor`); null on servers from before 0005. */
  flavor: string | null;
  key_name: string | null;
  /** Base64 as the client sent it (shown to admins as `OS-EXT-SRV-ATTR:user_data`). */
  user_data: string | null;
  availability_zone: string | null;
  description: string | null;
  hostname: string | null;
  config_drive: number | null;
  access_ipv4: string | null;
  access_ipv6: string | null;
  disk_config: string | null;
  /** JSON array of tags (2.52). */
  tags: string | null;
  /** JSON array of certificate ids (2.63), or null. */
  trusted_certs: string | null;
  reservation_id: string | null;
  launch_index: number | null;
  launched_at: string | null;
  /** `/dev/vda` for a server booted from a volume; null for one booted from an image. */
  root_device_name: string | null;
  /** JSON `{code, message, created}` of why the server is in ERROR (Nova's instance fault). */
  fault: string | null;
  /** JSON `BootDevice[]`: the volumes the server boots with, until its host has attached them. */
  block_devices: string | null;
}

/** Block-device mapping: one volume on one server, as Nova records it. */
export interface BdmTable {
  id: string;
  server_id: string;
  volume_id: string;
  /** `/dev/vdb` */
  device_name: string;
  /** Cinder attachment id (attachments flow); null in the legacy flow. */
  attachment_id: string | null;
  /** `reserved` → `attaching` → `attached` → `detaching`; the row goes when detached. */
  status: string;
  /** JSON of the connection_info the storage side returned, secrets included: never logged. */
  connection_info: string | null;
  /** JSON of what the host connect returned (device path, WWN, multipath id). */
  device_info: string | null;
  /** Which flow reserved it: `attachments` or `legacy`. */
  cinder_flow: string;
  created_at: string;
  updated_at: string | null;
  /** 0 for the boot disk, 1… for the order after it, null for a volume attached later. */
  boot_index: number | null;
  /** 1: deleting the server deletes the volume. */
  delete_on_termination: number | null;
  /** Where the volume came from at boot: `volume`, `image`, `blank`, `snapshot`; null for a hot-plug attach. */
  source_type: string | null;
  image_id: string | null;
  volume_size: number | null;
  volume_type: string | null;
  tag: string | null;
}

/** One attach or detach: the journal entry and the anchor of its trace. */
export interface OperationTable {
  id: string;
  kind: string;
  server_id: string;
  volume_id: string;
  bdm_id: string | null;
  project_id: string;
  request_id: string;
  /** Who asked (Nova's instance action `user_id`); null on operations from before 0008. */
  user_id: string | null;
  /** `running`, `done`, `failed`, `rolled_back` */
  state: string;
  /** The step in progress or last reached (journal). */
  step: string | null;
  error_code: string | null;
  error_message: string | null;
  started_ms: number;
  ended_ms: number | null;
  created_at: string;
}

/**
 * An operation's trace, one document per operation: the spans as a JSON array of `SpanRecord`
 * (id, parentId, name, startMs, endMs, outcome, attrs, error). A trace is written and read
 * whole — saved at the operation's end (and while a long one runs), shown whole by the API and
 * `hitch trace` — so one row replaces the row per span it used to be (migration 0003): an
 * attach's ~40 spans cost one statement and one B-tree entry instead of forty.
 */
export interface TraceTable {
  operation_id: string;
  spans: string;
}

export interface ComputeHostTable {
  name: string;
  agent_id: string;
  heartbeat_ms: number;
  started_ms: number;
}

/** Work for one compute host's agent: spawn, destroy, attach, detach. */
export interface ComputeTaskTable {
  id: string;
  host: string;
  kind: string;
  payload: string;
  /** `queued` → `running` → `done` | `failed`; a reserve also passes through `reserved`. */
  state: string;
  result: string | null;
  error_code: string | null;
  error_message: string | null;
  claimed_by: string | null;
  created_ms: number;
  updated_ms: number;
}

export interface ComputeTables extends CatalogTables {
  compute_hosts: ComputeHostTable;
  compute_tasks: ComputeTaskTable;
  servers: ServerTable;
  bdms: BdmTable;
  operations: OperationTable;
  traces: TraceTable;
}

type Db = Kysely<unknown>;

const m0001_compute: Migration = {
  async up(db: Db) {
    await db.schema
      .createTable('servers')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('status', 'varchar(32)', (c) => c.notNull())
      .addColumn('task_state', 'varchar(64)')
      .addColumn('flavor_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('image_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('host', 'varchar(255)', (c) => c.notNull())
      .addColumn('domain_name', 'varchar(255)', (c) => c.notNull())
      .addColumn('metadata', 'text', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)')
      .execute();
    await db.schema.createIndex('servers_project').on('servers').columns(['project_id', 'created_at']).execute();
    await db.schema
      .createTable('bdms')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('server_id', 'varchar(64)', (c) => c.notNull().references('servers.id').onDelete('cascade'))
      .addColumn('volume_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('device_name', 'varchar(64)', (c) => c.notNull())
      .addColumn('attachment_id', 'varchar(64)')
      .addColumn('status', 'varchar(32)', (c) => c.notNull())
      .addColumn('connection_info', 'text')
      .addColumn('device_info', 'text')
      .addColumn('cinder_flow', 'varchar(16)', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)')
      // One device name per server and one mapping per volume per server, enforced by the
      // database so two racing reserves cannot both win.
      .addUniqueConstraint('bdms_server_device', ['server_id', 'device_name'])
      .addUniqueConstraint('bdms_server_volume', ['server_id', 'volume_id'])
      .execute();
    await db.schema
      .createTable('operations')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('kind', 'varchar(16)', (c) => c.notNull())
      .addColumn('server_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('volume_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('bdm_id', 'varchar(64)')
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('request_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('step', 'varchar(64)')
      .addColumn('error_code', 'varchar(64)')
      .addColumn('error_message', 'text')
      .addColumn('started_ms', 'bigint', (c) => c.notNull())
      .addColumn('ended_ms', 'bigint')
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('operations_server_volume').on('operations').columns(['server_id', 'volume_id']).execute();
    await db.schema.createIndex('operations_state').on('operations').column('state').execute();
    await db.schema
      .createTable('spans')
      .addColumn('operation_id', 'varchar(64)', (c) => c.notNull().references('operations.id').onDelete('cascade'))
      .addColumn('span_id', 'integer', (c) => c.notNull())
      .addColumn('parent_id', 'integer')
      .addColumn('name', 'varchar(128)', (c) => c.notNull())
      .addColumn('start_ms', 'bigint', (c) => c.notNull())
      .addColumn('end_ms', 'bigint')
      .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
      .addColumn('attrs', 'text', (c) => c.notNull())
      .addColumn('error_code', 'varchar(64)')
      .addColumn('error_message', 'text')
      .addPrimaryKeyConstraint('spans_pk', ['operation_id', 'span_id'])
      .execute();
  },
};

/** Scale-out: compute hosts' heartbeats and the work queued for them. */
const m0002_queue: Migration = {
  async up(db: Db) {
    await db.schema
      .createTable('compute_hosts')
      .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
      .addColumn('agent_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('heartbeat_ms', 'bigint', (c) => c.notNull())
      .addColumn('started_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('compute_tasks')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('host', 'varchar(255)', (c) => c.notNull())
      .addColumn('kind', 'varchar(16)', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('result', 'text')
      .addColumn('error_code', 'varchar(64)')
      .addColumn('error_message', 'text')
      .addColumn('claimed_by', 'varchar(64)')
      .addColumn('created_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('compute_tasks_host_state').on('compute_tasks').columns(['host', 'state', 'created_ms']).execute();
  },
};

/** Spans: one JSON document per operation (`TraceTable`) instead of a row per span. */
const m0003_trace_documents: Migration = {
  async up(db: Db) {
    await db.schema
      .createTable('traces')
      .addColumn('operation_id', 'varchar(64)', (c) => c.primaryKey().references('operations.id').onDelete('cascade'))
      .addColumn('spans', 'text', (c) => c.notNull())
      .execute();
    // Carry every operation's spans over, a batch of operations at a time.
    const any = db as Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    let after = '';
    for (;;) {
      const ids: string[] = (await any.selectFrom('spans').select('operation_id').distinct().where('operation_id', '>', after).orderBy('operation_id').limit(500).execute()).map(
        (r: { operation_id: string }) => r.operation_id,
      );
      if (ids.length === 0) break;
      const rows = await any.selectFrom('spans').selectAll().where('operation_id', 'in', ids).orderBy('operation_id').orderBy('span_id').execute();
      const byOp = new Map<string, unknown[]>();
      for (const r of rows) {
        const list = byOp.get(r.operation_id) ?? [];
        list.push({
          id: Number(r.span_id),
          parentId: r.parent_id === null ? null : Number(r.parent_id),
          name: r.name,
          startMs: Number(r.start_ms),
          endMs: r.end_ms === null ? null : Number(r.end_ms),
          outcome: r.outcome,
          attrs: JSON.parse(r.attrs),
          ...(r.error_code ? { error: { code: r.error_code, message: r.error_message ?? '' } } : {}),
        });
        byOp.set(r.operation_id, list);
      }
      await any.insertInto('traces').values([...byOp].map(([operation_id, spans]) => ({ operation_id, spans: JSON.stringify(spans) }))).execute();
      after = ids[ids.length - 1] as string;
    }
    await db.schema.dropTable('spans').execute();
  },
};

/**
 * Lists at fleet size (a hundred thousand servers): the server list's filters and sort keys on
 * indexes (held by `test/scale-out/list-plans.test.ts`), servers by host (placement, the agent's
 * reaper and start-up), mappings by volume (recovery). `updated_at` is set at creation from now
 * on (and filled for old rows), so `changes-since` is one range on it.
 */
const m0004_fleet_lists: Migration = {
  async up(db: Db) {
    const pg = db.getExecutor().adapter instanceof PostgresAdapter;
    await sql`update servers set updated_at = created_at where updated_at is null`.execute(db);
    const nullsFirst = (c: string): string => (pg ? `${c} asc nulls first` : c);
    const indexes: Array<[string, string, string[]]> = [
      ['servers_project_created', 'servers', ['project_id', 'created_at', 'id']],
      ['servers_project_updated', 'servers', ['project_id', nullsFirst('updated_at'), 'created_at', 'id']],
      ['servers_created', 'servers', ['created_at', 'id']],
      ['servers_updated', 'servers', [nullsFirst('updated_at'), 'created_at', 'id']],
      ['servers_name', 'servers', ['name', 'created_at', 'id']],
      ['servers_status_created', 'servers', ['status', 'created_at', 'id']],
      ['servers_host', 'servers', ['host', 'status']],
      ['bdms_volume', 'bdms', ['volume_id']],
    ];
    // The name filter's prefix form (`^web-`) is a LIKE on PostgreSQL: an index of its own, in
    // byte order whatever the database's collation. (SQLite's GLOB uses servers_name.)
    if (pg) indexes.push(['servers_name_prefix', 'servers', ['name varchar_pattern_ops']]);
    await db.schema.dropIndex('servers_project').execute();
    for (const [name, table, columns] of indexes) await sql.raw(`create index ${name} on ${table} (${columns.join(', ')})`).execute(db);
  },
};

/**
 * The operation history, newest first per project (the operations list) and by age (retention
 * deletes the oldest).
 */
const m0006_operation_history: Migration = {
  async up(db: Db) {
    await db.schema.createIndex('operations_project_created').on('operations').columns(['project_id', 'created_at', 'id']).execute();
    await db.schema.createIndex('operations_created').on('operations').columns(['created_at', 'id']).execute();
  },
};

/** The operation history of one volume across every project (an admin's `?volume_id=`), on an index. */
const m0007_operations_by_volume: Migration = {
  async up(db: Db) {
    await db.schema.createIndex('operations_volume').on('operations').columns(['volume_id', 'created_at', 'id']).execute();
  },
};

/** Who asked for each operation, for the server's instance actions (`os-instance-actions`). */
const m0008_operation_user: Migration = {
  async up(db: Db) {
    await db.schema.alterTable('operations').addColumn('user_id', 'varchar(64)').execute();
  },
};

const MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  '0001_compute': m0001_compute,
  '0002_queue': m0002_queue,
  '0003_trace_documents': m0003_trace_documents,
  '0004_fleet_lists': m0004_fleet_lists,
  '0005_catalog': m0005_catalog,
  '0006_operation_history': m0006_operation_history,
  '0007_operations_by_volume': m0007_operations_by_volume,
  '0008_operation_user': m0008_operation_user,
});

/**
 * Apply the compute service's pending migrations (recorded in `compute_migration`); with
 * `upTo`, only up to that one (tests of a migration start from the schema before it).
 */
export async function migrateCompute<DB>(db: Kysely<DB>, upTo?: string): Promise<void> {
  const migrator = new Migrator({
    db: db as unknown as Kysely<unknown>,
    provider: { getMigrations: async () => ({ ...MIGRATIONS }) },
    migrationTableName: 'compute_migration',
    migrationLockTableName: 'compute_migration_lock',
  });
  const { error } = upTo === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(upTo);
  if (error) throw error instanceof Error ? error : new Error(String(error));
}
