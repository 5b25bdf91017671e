/**
 * PostgreSQL for a scale-out cloud: what a first start needs (a role that can log in, a
 * database it owns) and plain words for what goes wrong before it exists. `hitch db init`
 * creates both; a server that cannot use its database says which of the two is missing and
 * how to create them, never `ECONNREFUSED` alone.
 */
import pg from 'pg';
import { HitchError } from '../errors.ts';

/** `postgres://hitch:***@127.0.0.1:5432/hitch`: a URL fit for a message. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
  }
}

interface Target {
  readonly where: string;
  readonly role: string;
  readonly password: string;
  readonly database: string;
}

function target(url: string): Target {
  const u = new URL(url);
  return {
    where: `${u.hostname || 'localhost'}:${u.port || '5432'}`,
    role: decodeURIComponent(u.username) || process.env['USER'] || 'postgres',
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || 'postgres',
  };
}

/**
 * The error a PostgreSQL failure at start means to a person: the server unreachable, or the
 * role/database not set up (SQLSTATE 28000, 28P01, 3D000). Anything else is passed through.
 */
export function postgresStartError(e: unknown, url: string): unknown {
  const err = e as { code?: string; message?: string; errors?: { code?: string; message?: string }[] };
  const t = target(url);
  const masked = maskUrl(url);
  // AggregateError of every address tried (127.0.0.1 and ::1): the first says enough.
  const first = err.errors?.[0] ?? err;
  const code = err.code ?? first.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT' || code === 'ENOENT') {
    return new HitchError('HITCH_DATABASE_UNREACHABLE', { where: t.where, detail: `${code === 'ECONNREFUSED' ? 'connection refused' : code}`, url: masked }, { cause: e });
  }
  if (code === '28000' || code === '28P01' || code === '3D000') {
    const detail = code === '3D000' ? `database ${t.database} does not exist` : code === '28P01' ? `password authentication failed for ${t.role}` : `role ${t.role} does not exist or may not log in`;
    return new HitchError('HITCH_DATABASE_NOT_SET_UP', { where: t.where, role: t.role, database: t.database, detail, url: masked }, { cause: e });
  }
  return e;
}

const ident = (s: string): string => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** The SQL that `hitch db init` runs as the superuser (`--print-sql`: for a DBA to run). */
export function setupSql(url: string): string[] {
  const t = target(url);
  return [
    `CREATE ROLE ${ident(t.role)} LOGIN${t.password ? ` PASSWORD ${literal(t.password)}` : ''};`,
    `CREATE DATABASE ${ident(t.database)} OWNER ${ident(t.role)};`,
  ];
}

export interface SetupResult {
  readonly createdRole: boolean;
  readonly createdDatabase: boolean;
}

/**
 * Create the role of `url` (with its password) and its database, owned by it, as the superuser
 * of `adminUrl`; what exists already is left as it is (a role's password is set again).
 */
export async function ensureRoleAndDatabase(adminUrl: string, url: string): Promise<SetupResult> {
  const t = target(url);
  const admin = new pg.Client({ connectionString: adminUrl });
  try {
    await admin.connect();
  } catch (e) {
    throw postgresStartError(e, adminUrl);
  }
  try {
    const role = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [t.role]);
    const createdRole = role.rowCount === 0;
    if (createdRole) await admin.query(`CREATE ROLE ${ident(t.role)} LOGIN${t.password ? ` PASSWORD ${literal(t.password)}` : ''}`);
    else if (t.password) await admin.query(`ALTER ROLE ${ident(t.role)} LOGIN PASSWORD ${literal(t.password)}`);
    const db = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [t.database]);
    const createdDatabase = db.rowCount === 0;
    if (createdDatabase) await admin.query(`CREATE DATABASE ${ident(t.database)} OWNER ${ident(t.role)}`);
    return { createdRole, createdDatabase };
  } finally {
    await admin.end();
  }
}

/** The superuser URL `hitch db init` uses by default: `postgres` on the same server, database `postgres`. */
export function defaultAdminUrl(url: string): string {
  const u = new URL(url);
  u.username = 'postgres';
  u.password = '';
  u.pathname = '/postgres';
  return u.toString();
}
