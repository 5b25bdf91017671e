/**
 * The bulk loader: a fleet's worth of rows (projects, volumes and their metadata, servers,
 * attachments and their block-device mappings) written by the database itself, one
 * `INSERT … SELECT` over a number series per table — no row crosses the socket, so a million
 * volumes load in tens of seconds on PostgreSQL and a hundred thousand in a few on SQLite.
 *
 * The rows are what the APIs would have written (same columns, formats, statuses, one attachment
 * per mapping, one journal entry per attach) and deterministic: entity n of a kind has id `fleetId(kind, n)`, so a test or the
 * bench can name any row without reading it back. The shape:
 *
 * - project of volume/server n: `1 + n % projects`; volume n and server n of the same project;
 * - volumes 1..attachments are in-use, attached to server `1 + (n - 1) % servers` (same project
 *   when `projects` divides `servers`), two per server at 200k attachments over 100k servers;
 *   one volume in 997 is in error, one in 50 has no name, one in 10 is bootable, one in 4 is in
 *   availability zone `az-2`;
 * - metadata `{"tier": gold|silver|bronze, "app": "app-(n % 1000)"}`: a filter on tier matches a
 *   third of the rows, on app one in a thousand;
 * - servers spread over `hosts` compute hosts `compute-1…`; one in 20 in SHUTOFF;
 * - created_at one second apart from 2026-01-01 (in creation order), updated_at later.
 */
import { sql, type Kysely } from 'kysely';
import type { HitchDb } from '../../src/db/open-database.ts';

export interface FleetSize {
  /** Project 1 may be an existing project (a test's demo project): its id here. */
  readonly project1Id?: string;
  readonly projects: number;
  readonly volumes: number;
  readonly servers: number;
  readonly attachments: number;
  readonly hosts: number;
}

export const FLEET_1M: FleetSize = { projects: 1000, volumes: 1_000_000, servers: 100_000, attachments: 200_000, hosts: 1000 };

/** The volume type every loaded volume has (the default type, created by VolumeService.init). */
const DEFAULT_TYPE = '5e4f1a2b-0000-4000-8000-000000000001';
/** 2026-01-01T00:00:00Z in Unix seconds. */
const EPOCH = 1_767_225_600;

export type FleetKind = 'project' | 'volume' | 'server' | 'attachment' | 'bdm' | 'operation';
const KIND: Readonly<Record<FleetKind, string>> = { project: 'e001', volume: 'a001', server: 'b001', attachment: 'c001', bdm: 'd001', operation: 'f001' };

/** The id of entity `n` (1-based) of `kind`: a UUID whose first group is scrambled, last is n. */
export function fleetId(kind: FleetKind, n: number): string {
  const scrambled = Number((BigInt(n) * 2654435761n) % 4294967296n);
  return `${scrambled.toString(16).padStart(8, '0')}-${KIND[kind]}-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** The time of second n of the fleet's history as block storage stores it (Cinder's text format). */
export function fleetTime(n: number): string {
  return fleetIso(n).replace(/\.\d{3}Z$/, '.000000');
}

/** The same as compute stores it (ISO-8601 with milliseconds and Z). */
export function fleetIso(n: number): string {
  return new Date((EPOCH + n) * 1000).toISOString();
}

interface Dialect {
  /** `SELECT <cols> FROM <series 1..n as n>` as the source of an INSERT. */
  insertSeries(table: string, columns: string, n: number, select: string): string;
  id(kind: FleetKind, n: string): string;
  /** Second n as text, ending in `suffix` (`.000000` Cinder's, `.000Z` compute's). */
  time(n: string, suffix?: string): string;
  hex(n: string): string;
}

const postgres: Dialect = {
  insertSeries: (table, columns, n, select) => `insert into ${table} (${columns}) select ${select} from generate_series(1, ${n}) as g(n)`,
  id: (kind, n) => `lpad(to_hex((${n}::bigint * 2654435761) % 4294967296), 8, '0') || '-${KIND[kind]}-4000-8000-' || lpad(to_hex(${n}), 12, '0')`,
  time: (n, suffix = '.000000') => `to_char(to_timestamp(${EPOCH} + (${n})) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '${suffix}'`,
  hex: (n) => `to_hex(${n})`,
};

const sqlite: Dialect = {
  insertSeries: (table, columns, n, select) =>
    `with recursive g(n) as (select 1 union all select n + 1 from g where n < ${n}) insert into ${table} (${columns}) select ${select} from g`,
  id: (kind, n) => `printf('%08x-${KIND[kind]}-4000-8000-%012x', ((${n}) * 2654435761) % 4294967296, ${n})`,
  time: (n, suffix = '.000000') => `strftime('%Y-%m-%dT%H:%M:%S', ${EPOCH} + (${n}), 'unixepoch') || '${suffix}'`,
  hex: (n) => `printf('%x', ${n})`,
};

export interface LoadReport {
  readonly size: FleetSize;
  /** Wall milliseconds per table, and for the statistics pass. */
  readonly ms: Record<string, number>;
}

/**
 * Load `size` into `db` (migrated, empty of fleet rows; VolumeService.init has made the default
 * type). The statistics are refreshed at the end (`ANALYZE`), as after any bulk load, so the
 * planner sees the fleet.
 */
export async function loadFleet(db: HitchDb, size: FleetSize): Promise<LoadReport> {
  const d = db.dialect === 'postgres' ? postgres : sqlite;
  return (db.db as unknown as Kysely<unknown>).connection().execute((k) => load(k, d, db.dialect === 'postgres', size));
}

/** Tables the loader fills, whose secondary indexes it rebuilds after the rows are in. */
const TABLES = ['volumes', 'volume_metadata', 'servers', 'attachments', 'bdms', 'operations'];

async function load(k: Kysely<unknown>, d: Dialect, pg: boolean, size: FleetSize): Promise<LoadReport> {
  const { projects: P, volumes: V, servers: S, attachments: A, hosts: H } = size;
  if (A > V) throw new Error(`fleet: ${A} attachments need as many volumes (${V})`);
  if (A > S * 20) throw new Error(`fleet: ${A} attachments over ${S} servers is more than 20 a server`);
  const ms: Record<string, number> = {};
  const run = async (what: string, text: string): Promise<void> => {
    const t0 = performance.now();
    await sql.raw(text).execute(k);
    ms[what] = (ms[what] ?? 0) + (performance.now() - t0);
  };
  const p1 = size.project1Id?.replace(/'/g, '');
  // PostgreSQL: drop the secondary indexes and build them after the load — one sort each instead of
  // a million random B-tree inserts — as pg_restore does; the constraints' indexes stay.
  let rebuild: Array<{ indexname: string; indexdef: string }> = [];
  if (pg) {
    await run('indexes', "set maintenance_work_mem = '256MB'");
    rebuild = (
      await sql<{ indexname: string; indexdef: string }>`select indexname, indexdef from pg_indexes where schemaname = current_schema()
        and tablename in (${sql.join(TABLES)}) and indexname not in (select conname from pg_constraint)`.execute(k)
    ).rows;
    for (const i of rebuild) await run('indexes', `drop index ${i.indexname}`);
  }
  const project = (n: string) => (p1 ? `case when (${n}) % ${P} = 0 then '${p1}' else ${d.id('project', `1 + (${n}) % ${P}`)} end` : d.id('project', `1 + (${n}) % ${P}`));
  const serverOf = (n: string) => `(1 + ((${n}) - 1) % ${S})`;

  await run('projects', d.insertSeries('projects', 'id, name, domain_id, description, enabled', P - (p1 ? 1 : 0), `${d.id('project', `n + ${p1 ? 1 : 0}`)}, 'fleet-' || (n + ${p1 ? 1 : 0}), 'default', 'bulk-loaded', 1`));
  await run(
    'volumes',
    d.insertSeries(
      'volumes',
      'id, project_id, user_id, name, description, size, status, attach_status, migration_status, multiattach, bootable, volume_type_id, availability_zone, host, provider_location, metadata, created_at, updated_at',
      V,
      [
        d.id('volume', 'n'),
        project('n'),
        `'fleet-user'`,
        `case when n % 50 = 0 then null else 'vol-' || n end`,
        'null',
        '1 + n % 100',
        `case when n <= ${A} then 'in-use' when n % 997 = 0 then 'error' else 'available' end`,
        `case when n <= ${A} then 'attached' else 'detached' end`,
        'null',
        '0',
        'case when n % 10 = 0 then 1 else 0 end',
        `'${DEFAULT_TYPE}'`,
        `case when n % 4 = 0 then 'az-2' else 'nova' end`,
        `'hitch@sim#array1'`,
        'null',
        `'{"tier":"' || case n % 3 when 0 then 'gold' when 1 then 'silver' else 'bronze' end || '","app":"app-' || (n % 1000) || '"}'`,
        d.time('n'),
        d.time(`n + ${V}`),
      ].join(', '),
    ),
  );
  await run('volume_metadata', d.insertSeries('volume_metadata', 'volume_id, project_id, key, value', V, `${d.id('volume', 'n')}, ${project('n')}, 'tier', case n % 3 when 0 then 'gold' when 1 then 'silver' else 'bronze' end`));
  await run('volume_metadata', d.insertSeries('volume_metadata', 'volume_id, project_id, key, value', V, `${d.id('volume', 'n')}, ${project('n')}, 'app', 'app-' || (n % 1000)`));
  await run(
    'servers',
    d.insertSeries(
      'servers',
      'id, project_id, user_id, name, status, task_state, flavor_id, image_id, host, domain_name, metadata, created_at, updated_at',
      S,
      [
        d.id('server', 'n'),
        project('n'),
        `'fleet-user'`,
        `'vm-' || n`,
        `case when n % 20 = 0 then 'SHUTOFF' else 'ACTIVE' end`,
        'null',
        `'1'`,
        `'hitch-tiny'`,
        `'compute-' || (1 + n % ${H})`,
        `'instance-' || ${d.hex('n')}`,
        `'{}'`,
        d.time('n', '.000Z'),
        d.time(`n + ${S}`, '.000Z'),
      ].join(', '),
    ),
  );
  // Attachment n: volume n on server 1 + (n - 1) % S, device vdb, vdc, … by the server's nth.
  const device = `'/dev/vd' || substr('bcdefghijklmnopqrstu', 1 + (n - 1) / ${S}, 1)`;
  await run(
    'attachments',
    d.insertSeries(
      'attachments',
      'id, volume_id, project_id, instance_uuid, attached_host, mountpoint, attach_status, attach_mode, connector, connection_info, attach_time, detach_time, created_at, updated_at',
      A,
      [d.id('attachment', 'n'), d.id('volume', 'n'), project('n'), d.id('server', serverOf('n')), `'compute-' || (1 + ${serverOf('n')} % ${H})`, device, `'attached'`, `'rw'`, 'null', 'null', d.time(`n + ${V}`), 'null', d.time(`n + ${V}`), d.time(`n + ${V}`)].join(', '),
    ),
  );
  await run(
    'bdms',
    d.insertSeries(
      'bdms',
      'id, server_id, volume_id, device_name, attachment_id, status, connection_info, device_info, cinder_flow, created_at, updated_at',
      A,
      [d.id('bdm', 'n'), d.id('server', serverOf('n')), d.id('volume', 'n'), device, d.id('attachment', 'n'), `'attached'`, 'null', 'null', `'attachments'`, d.time(`n + ${V}`, '.000Z'), d.time(`n + ${V}`, '.000Z')].join(', '),
    ),
  );
  // The attach that made each mapping, in the journal (one in 50 rolled back and tried again).
  await run(
    'operations',
    d.insertSeries(
      'operations',
      'id, kind, server_id, volume_id, bdm_id, project_id, request_id, state, step, error_code, error_message, started_ms, ended_ms, created_at',
      A,
      [
        d.id('operation', 'n'),
        `'attach'`,
        d.id('server', serverOf('n')),
        d.id('volume', 'n'),
        d.id('bdm', 'n'),
        project('n'),
        `'req-fleet'`,
        `case when n % 50 = 0 then 'rolled_back' else 'done' end`,
        'null',
        `case when n % 50 = 0 then 'HITCH_ISCSI_LOGIN_TIMEOUT' else null end`,
        'null',
        `(cast(${EPOCH} as bigint) + n + ${V}) * 1000`,
        `(cast(${EPOCH} as bigint) + n + ${V}) * 1000 + 250`,
        d.time(`n + ${V}`, '.000Z'),
      ].join(', '),
    ),
  );
  for (const i of rebuild) await run('indexes', i.indexdef);
  // As autovacuum would soon after: statistics for the planner, and the visibility map, without
  // which an index-only scan (a count) is priced as if every row needed its heap page.
  await run('analyze', pg ? 'vacuum analyze' : 'analyze');
  return { size, ms };
}
