/**
 * The compute service's catalog tables (migration 0005): flavors with their extra specs and
 * project access, quota limits per project, the compute services' enabled state, and the server
 * and block-device-mapping columns that server create and boot from volume record.
 *
 * Nova keeps flavors in its API database and copies the flavor into each instance (a flavor
 * deleted later does not change a running server); Hitch does the same with `servers.flavor`,
 * a JSON copy taken at create.
 */
import type { Kysely, Migration } from 'kysely';

export interface FlavorTable {
  /** Nova's `flavorid`: the id the API shows (`1`, `m1.custom`, a UUID). */
  id: string;
  name: string;
  memory_mb: number;
  vcpus: number;
  root_gb: number;
  ephemeral_gb: number;
  swap: number;
  rxtx_factor: number;
  is_public: number;
  disabled: number;
  description: string | null;
  /** Insertion order: Nova's default sort is by its integer primary key within a flavorid tie. */
  seq: number;
  created_at: string;
}

export interface FlavorExtraSpecTable {
  flavor_id: string;
  key: string;
  value: string;
}

export interface FlavorProjectTable {
  flavor_id: string;
  project_id: string;
}

/** A project's quota limit for one resource (`instances`, `cores`, `ram`, …); absent = the default. */
export interface QuotaTable {
  project_id: string;
  resource: string;
  hard_limit: number;
}

/**
 * The `nova-compute` service of each compute host, as `os-services` shows it: whether new servers
 * may be placed there (`disabled`) and why, and whether an operator forced it down.
 */
export interface ComputeServiceTable {
  host: string;
  /** Stable id for 2.53+ (`os-services/{uuid}`, `os-hypervisors/{uuid}`). */
  uuid: string;
  /** Integer id for microversions before 2.53. */
  seq: number;
  disabled: number;
  disabled_reason: string | null;
  forced_down: number;
  /** What the host reported when its compute service last started (`os-hypervisors`). */
  hypervisor_type: string;
  hypervisor_version: number;
  vcpus: number;
  memory_mb: number;
  local_gb: number;
  host_ip: string;
  created_at: string;
  updated_at: string | null;
}

export interface CatalogTables {
  flavors: FlavorTable;
  flavor_extra_specs: FlavorExtraSpecTable;
  flavor_projects: FlavorProjectTable;
  quotas: QuotaTable;
  compute_services: ComputeServiceTable;
}

/** The flavors every Hitch cloud starts with (DevStack's small ones and the tiny guest's). */
export const DEFAULT_FLAVORS = [
  { id: '1', name: 'm1.tiny', memory_mb: 512, vcpus: 1, root_gb: 1 },
  { id: '2', name: 'm1.small', memory_mb: 2048, vcpus: 1, root_gb: 20 },
  { id: '3', name: 'm1.medium', memory_mb: 4096, vcpus: 2, root_gb: 40 },
  { id: '42', name: 'h1.micro', memory_mb: 128, vcpus: 1, root_gb: 0 },
] as const;

type Db = Kysely<unknown>;

export const m0005_catalog: Migration = {
  async up(db: Db) {
    await db.schema
      .createTable('flavors')
      .addColumn('id', 'varchar(255)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
      .addColumn('memory_mb', 'integer', (c) => c.notNull())
      .addColumn('vcpus', 'integer', (c) => c.notNull())
      .addColumn('root_gb', 'integer', (c) => c.notNull())
      .addColumn('ephemeral_gb', 'integer', (c) => c.notNull())
      .addColumn('swap', 'integer', (c) => c.notNull())
      .addColumn('rxtx_factor', 'double precision', (c) => c.notNull())
      .addColumn('is_public', 'integer', (c) => c.notNull())
      .addColumn('disabled', 'integer', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('flavor_extra_specs')
      .addColumn('flavor_id', 'varchar(255)', (c) => c.notNull().references('flavors.id').onDelete('cascade'))
      .addColumn('key', 'varchar(255)', (c) => c.notNull())
      .addColumn('value', 'varchar(255)', (c) => c.notNull())
      .addPrimaryKeyConstraint('flavor_extra_specs_pk', ['flavor_id', 'key'])
      .execute();
    await db.schema
      .createTable('flavor_projects')
      .addColumn('flavor_id', 'varchar(255)', (c) => c.notNull().references('flavors.id').onDelete('cascade'))
      .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
      .addPrimaryKeyConstraint('flavor_projects_pk', ['flavor_id', 'project_id'])
      .execute();
    await db.schema
      .createTable('quotas')
      .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('resource', 'varchar(64)', (c) => c.notNull())
      .addColumn('hard_limit', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('quotas_pk', ['project_id', 'resource'])
      .execute();
    await db.schema
      .createTable('compute_services')
      .addColumn('host', 'varchar(255)', (c) => c.primaryKey())
      .addColumn('uuid', 'varchar(64)', (c) => c.notNull().unique())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('disabled', 'integer', (c) => c.notNull())
      .addColumn('disabled_reason', 'varchar(255)')
      .addColumn('forced_down', 'integer', (c) => c.notNull())
      .addColumn('hypervisor_type', 'varchar(64)', (c) => c.notNull())
      .addColumn('hypervisor_version', 'bigint', (c) => c.notNull())
      .addColumn('vcpus', 'integer', (c) => c.notNull())
      .addColumn('memory_mb', 'bigint', (c) => c.notNull())
      .addColumn('local_gb', 'bigint', (c) => c.notNull())
      .addColumn('host_ip', 'varchar(64)', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)')
      .execute();
    // What server create records beyond the name and flavor (Nova's instance columns).
    for (const [name, type] of [
      ['flavor', 'text'],
      ['key_name', 'varchar(255)'],
      ['user_data', 'text'],
      ['availability_zone', 'varchar(255)'],
      ['description', 'varchar(255)'],
      ['hostname', 'varchar(255)'],
      ['config_drive', 'integer'],
      ['access_ipv4', 'varchar(64)'],
      ['access_ipv6', 'varchar(64)'],
      ['disk_config', 'varchar(16)'],
      ['tags', 'text'],
      ['trusted_certs', 'text'],
      ['reservation_id', 'varchar(64)'],
      ['launch_index', 'integer'],
      ['launched_at', 'varchar(32)'],
      ['root_device_name', 'varchar(64)'],
      ['fault', 'text'],
      ['block_devices', 'text'],
    ] as const) {
      await db.schema.alterTable('servers').addColumn(name, type).execute();
    }
    // Boot from volume: where a mapping's volume comes from, its place in the boot order, and
    // whether deleting the server deletes it.
    for (const [name, type] of [
      ['boot_index', 'integer'],
      ['delete_on_termination', 'integer'],
      ['source_type', 'varchar(16)'],
      ['image_id', 'varchar(64)'],
      ['volume_size', 'integer'],
      ['volume_type', 'varchar(255)'],
      ['tag', 'varchar(60)'],
    ] as const) {
      await db.schema.alterTable('bdms').addColumn(name, type).execute();
    }
    const now = new Date().toISOString();
    const flavors = db as unknown as Kysely<CatalogTables>;
    await flavors
      .insertInto('flavors')
      .values(
        DEFAULT_FLAVORS.map((f, i) => ({
          ...f,
          ephemeral_gb: 0,
          swap: 0,
          rxtx_factor: 1,
          is_public: 1,
          disabled: 0,
          description: null,
          seq: i + 1,
          created_at: now,
        })),
      )
      .execute();
  },
};
