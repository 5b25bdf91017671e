/**
 * Versioned schema migrations. Each entry is applied once, in order, and recorded by Kysely's
 * migrator in `kysely_migration`; a released migration is never edited, only followed by a
 * new one. Only portable column types are used, so both dialects build the same schema.
 */
import { PostgresAdapter, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

// Migrations take `Kysely<unknown>`: they must not depend on the current TypeScript schema.
type Db = Kysely<unknown>;

const m0001_identity: Migration = {
  async up(db: Db) {
    await db.schema
      .createTable('projects')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('enabled', 'integer', (c) => c.notNull())
      .addUniqueConstraint('projects_domain_name', ['domain_id', 'name'])
      .execute();
    await db.schema
      .createTable('users')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('default_project_id', 'varchar(64)')
      .addColumn('enabled', 'integer', (c) => c.notNull())
      .addUniqueConstraint('users_domain_name', ['domain_id', 'name'])
      .execute();
    await db.schema
      .createTable('roles')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
      .execute();
    await db.schema
      .createTable('role_assignments')
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('role_id', 'varchar(64)', (c) => c.notNull().references('roles.id').onDelete('cascade'))
      .addPrimaryKeyConstraint('role_assignments_pk', ['user_id', 'project_id', 'role_id'])
      .execute();
    await db.schema
      .createTable('tokens')
      .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('project_id', 'varchar(64)')
      .addColumn('audit_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('issued_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('revoked', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('tokens_expires_at').on('tokens').column('expires_at').execute();
    await db.schema
      .createTable('hitch_meta')
      .addColumn('key', 'varchar(128)', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
  },
};

const m0002_volumes: Migration = {
  async up(db: Db) {
    await db.schema
      .createTable('volume_types')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
      .addColumn('description', 'text')
      .addColumn('is_public', 'integer', (c) => c.notNull())
      .addColumn('extra_specs', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('volumes')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)')
      .addColumn('description', 'text')
      .addColumn('size', 'integer', (c) => c.notNull())
      .addColumn('status', 'varchar(32)', (c) => c.notNull())
      .addColumn('attach_status', 'varchar(32)', (c) => c.notNull())
      .addColumn('migration_status', 'varchar(32)')
      .addColumn('multiattach', 'integer', (c) => c.notNull())
      .addColumn('bootable', 'integer', (c) => c.notNull())
      .addColumn('volume_type_id', 'varchar(64)', (c) => c.notNull().references('volume_types.id'))
      .addColumn('availability_zone', 'varchar(255)', (c) => c.notNull())
      .addColumn('host', 'varchar(255)', (c) => c.notNull())
      .addColumn('provider_location', 'text')
      .addColumn('metadata', 'text', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)')
      .execute();
    await db.schema.createIndex('volumes_project').on('volumes').columns(['project_id', 'created_at']).execute();
    await db.schema
      .createTable('attachments')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('volume_id', 'varchar(64)', (c) => c.notNull().references('volumes.id').onDelete('cascade'))
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('instance_uuid', 'varchar(64)')
      .addColumn('attached_host', 'varchar(255)')
      .addColumn('mountpoint', 'varchar(255)')
      .addColumn('attach_status', 'varchar(32)', (c) => c.notNull())
      .addColumn('attach_mode', 'varchar(8)', (c) => c.notNull())
      .addColumn('connector', 'text')
      .addColumn('connection_info', 'text')
      .addColumn('attach_time', 'varchar(32)')
      .addColumn('detach_time', 'varchar(32)')
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)')
      .execute();
    await db.schema.createIndex('attachments_volume').on('attachments').column('volume_id').execute();
  },
};

/**
 * Keystone beyond tokens: a user's extra attributes (description, email), application
 * credentials (the secret stored as a scrypt hash, like a password), and the application
 * credential a token was issued for (its roles are the credential's, not the user's).
 */
const m0003_identity_more: Migration = {
  async up(db: Db) {
    await db.schema.alterTable('users').addColumn('extra', 'text').execute();
    await db.schema.alterTable('tokens').addColumn('app_cred_id', 'varchar(64)').execute();
    await db.schema.createIndex('tokens_user').on('tokens').column('user_id').execute();
    await db.schema
      .createTable('application_credentials')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('role_ids', 'text', (c) => c.notNull())
      .addColumn('unrestricted', 'integer', (c) => c.notNull())
      .addColumn('expires_at', 'varchar(32)')
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addUniqueConstraint('application_credentials_user_name', ['user_id', 'name'])
      .execute();
  },
};

/**
 * Lists at fleet size (a million volumes): every filter and sort key the volume list offers
 * runs on an index (`test/scale-out/list-plans.test.ts` holds that with EXPLAIN).
 *
 * - `volume_metadata`: one row per key, as Cinder keeps it, so `?metadata={"k":"v"}` is an index
 *   look-up instead of parsing every row's JSON. The JSON column stays what views read; the
 *   repository writes both in one transaction. Each row carries its volume's project, and the
 *   index is (key, value, project), so a project's filtered list reads the project's matches
 *   only, not every project's (a filter on a common value matches a third of a million rows).
 * - Per project, the default order and name; across projects (admins' `all_tenants`), one index
 *   per filter and sort key. Each ends in (created_at, id), the order's tie-breakers
 *   (`db/keyset.ts`), so one index serves "sort by the column" and "filter on it, newest first",
 *   and a page's marker is an index range. The nullable keys (name, updated_at) sort NULLs first ascending on both
 *   dialects: PostgreSQL's index is built that way (SQLite's NULLs sort first anyway).
 * - attachments by instance (Nova's and the storage protocol's `?instance_id=`), by project and
 *   in the list's order.
 */
const m0004_fleet_lists: Migration = {
  async up(db: Db) {
    const pg = db.getExecutor().adapter instanceof PostgresAdapter;
    await db.schema
      .createTable('volume_metadata')
      .addColumn('volume_id', 'varchar(64)', (c) => c.notNull().references('volumes.id').onDelete('cascade'))
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('volume_metadata_pk', ['volume_id', 'key'])
      .execute();
    await db.schema.createIndex('volume_metadata_key_value').on('volume_metadata').columns(['key', 'value', 'project_id', 'volume_id']).execute();
    // Carry every volume's metadata over, a batch at a time.
    const any = db as Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    let after = '';
    for (;;) {
      const rows: Array<{ id: string; project_id: string; metadata: string }> = await any.selectFrom('volumes').select(['id', 'project_id', 'metadata']).where('id', '>', after).orderBy('id').limit(1000).execute();
      if (rows.length === 0) break;
      const md = rows.flatMap((r) => Object.entries(JSON.parse(r.metadata) as Record<string, string>).map(([key, value]) => ({ volume_id: r.id, project_id: r.project_id, key, value: String(value) })));
      for (let i = 0; i < md.length; i += 1000) await any.insertInto('volume_metadata').values(md.slice(i, i + 1000)).execute();
      after = rows[rows.length - 1]!.id;
    }
    const nullsFirst = (c: string): string => (pg ? `${c} asc nulls first` : c);
    const indexes: Array<[string, string, string[]]> = [
      ['volumes_project_created', 'volumes', ['project_id', 'created_at', 'id']],
      ['volumes_project_name', 'volumes', ['project_id', nullsFirst('name'), 'created_at', 'id']],
      ['volumes_created', 'volumes', ['created_at', 'id']],
      ['volumes_name', 'volumes', [nullsFirst('name'), 'created_at', 'id']],
      ['volumes_status', 'volumes', ['status', 'created_at', 'id']],
      ['volumes_updated', 'volumes', [nullsFirst('updated_at'), 'created_at', 'id']],
      ['volumes_size', 'volumes', ['size', 'created_at', 'id']],
      ['volumes_az', 'volumes', ['availability_zone', 'created_at', 'id']],
      ['volumes_bootable', 'volumes', ['bootable', 'created_at', 'id']],
      ['attachments_instance', 'attachments', ['instance_uuid']],
      ['attachments_project', 'attachments', ['project_id', 'created_at', 'id']],
      ['attachments_created', 'attachments', ['created_at', 'id']],
    ];
    await db.schema.dropIndex('volumes_project').execute();
    for (const [name, table, columns] of indexes) await sql.raw(`create index ${name} on ${table} (${columns.join(', ')})`).execute(db);
  },
};

/**
 * Block storage beyond attach: where a volume came from (snapshot, source volume), its admin
 * metadata (`readonly`, `attached_mode`), snapshots, volume types' project access and QoS, the
 * per-project default type, quotas (limits per project and class, usage with reservations),
 * volume transfers, and the services' heartbeats.
 */
const m0005_block_storage_more: Migration = {
  async up(db: Db) {
    await db.schema.alterTable('volumes').addColumn('snapshot_id', 'varchar(64)').execute();
    await db.schema.alterTable('volumes').addColumn('source_volid', 'varchar(64)').execute();
    await db.schema.alterTable('volumes').addColumn('admin_metadata', 'text', (c) => c.notNull().defaultTo('{}')).execute();
    await db.schema.alterTable('volumes').addColumn('previous_status', 'varchar(32)').execute();
    await db.schema
      .createTable('snapshots')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('volume_id', 'varchar(64)', (c) => c.notNull().references('volumes.id'))
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)')
      .addColumn('description', 'text')
      .addColumn('size', 'integer', (c) => c.notNull())
      .addColumn('status', 'varchar(32)', (c) => c.notNull())
      .addColumn('progress', 'varchar(16)', (c) => c.notNull())
      .addColumn('volume_type_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('metadata', 'text', (c) => c.notNull())
      .addColumn('provider_location', 'text')
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)')
      .execute();
    await db.schema.createIndex('snapshots_volume').on('snapshots').column('volume_id').execute();
    await db.schema.createIndex('snapshots_project').on('snapshots').columns(['project_id', 'created_at', 'id']).execute();
    await db.schema.alterTable('volume_types').addColumn('qos_specs_id', 'varchar(64)').execute();
    await db.schema
      .createTable('volume_type_projects')
      .addColumn('volume_type_id', 'varchar(64)', (c) => c.notNull().references('volume_types.id').onDelete('cascade'))
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
      .addPrimaryKeyConstraint('volume_type_projects_pk', ['volume_type_id', 'project_id'])
      .execute();
    await db.schema
      .createTable('default_volume_types')
      .addColumn('project_id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('volume_type_id', 'varchar(64)', (c) => c.notNull().references('volume_types.id'))
      .execute();
    await db.schema
      .createTable('qos_specs')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
      .addColumn('consumer', 'varchar(32)', (c) => c.notNull())
      .addColumn('specs', 'text', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('volume_quotas')
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('resource', 'varchar(300)', (c) => c.notNull())
      .addColumn('hard_limit', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('volume_quotas_pk', ['project_id', 'resource'])
      .execute();
    await db.schema
      .createTable('volume_quota_classes')
      .addColumn('class_name', 'varchar(255)', (c) => c.notNull())
      .addColumn('resource', 'varchar(300)', (c) => c.notNull())
      .addColumn('hard_limit', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('volume_quota_classes_pk', ['class_name', 'resource'])
      .execute();
    await db.schema
      .createTable('volume_quota_usages')
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('resource', 'varchar(300)', (c) => c.notNull())
      .addColumn('in_use', 'integer', (c) => c.notNull())
      .addColumn('reserved', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('volume_quota_usages_pk', ['project_id', 'resource'])
      .execute();
    await db.schema
      .createTable('volume_quota_reservations')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('resource', 'varchar(300)', (c) => c.notNull())
      .addColumn('delta', 'integer', (c) => c.notNull())
      .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('volume_quota_reservations_expires').on('volume_quota_reservations').column('expires_at').execute();
    await db.schema
      .createTable('transfers')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('volume_id', 'varchar(64)', (c) => c.notNull().unique().references('volumes.id').onDelete('cascade'))
      .addColumn('source_project_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)')
      .addColumn('salt', 'varchar(64)', (c) => c.notNull())
      .addColumn('crypt_hash', 'varchar(255)', (c) => c.notNull())
      .addColumn('no_snapshots', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('services')
      .addColumn('binary', 'varchar(64)', (c) => c.notNull())
      .addColumn('host', 'varchar(255)', (c) => c.notNull())
      .addColumn('zone', 'varchar(255)', (c) => c.notNull())
      .addColumn('disabled', 'integer', (c) => c.notNull())
      .addColumn('disabled_reason', 'varchar(255)')
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
      .addPrimaryKeyConstraint('services_pk', ['binary', 'host'])
      .execute();
  },
};

/** All migrations, by name; names sort in application order. */
export const MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  '0001_identity': m0001_identity,
  '0002_volumes': m0002_volumes,
  '0003_identity_more': m0003_identity_more,
  '0004_fleet_lists': m0004_fleet_lists,
  '0005_block_storage_more': m0005_block_storage_more,
});

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve({ ...MIGRATIONS }),
};
