/**
 * What Hitch checks about a SQLite file before it trusts it (issue 23, defect 10): an existing
 * file must be a SQLite database, and a SQLite database with tables must be Hitch's. A 0-byte
 * file, another program's database or a file that is not SQLite at all is refused with its
 * path and the fix — never initialised as a new, empty cloud over what the operator had. Only a
 * file that does not exist yet starts a new database.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { HitchError } from '../errors.ts';

const HEADER = 'SQLite format 3\u0000';

const unusable = (path: string, reason: string, next: string): HitchError => new HitchError('HITCH_DATABASE_UNUSABLE', { path, reason, next });

/** Refuse an existing `file` that is empty or not a SQLite database. A missing file is fine (a new database). */
export function checkSqliteFileBeforeOpen(file: string): void {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw unusable(file, 'it is not a regular file', 'Point --database-url at a file (sqlite:/path/hitch.db).');
    size = st.size;
  } catch (e) {
    if (e instanceof HitchError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw unusable(file, `cannot stat it (${(e as NodeJS.ErrnoException).code ?? String(e)})`, 'Check the path and its permissions.');
  }
  if (size === 0) {
    throw unusable(file, 'the file is empty (0 bytes), not a Hitch database; Hitch will not start a new cloud over it', 'Restore the database from a backup, or remove the empty file to start a new cloud.');
  }
  const head = Buffer.alloc(16);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString('latin1') !== HEADER) {
    throw unusable(file, 'it is not a SQLite database (no SQLite header); Hitch will not overwrite it', 'Point --database-url or --data-dir at Hitch\'s database, or move this file away to start a new cloud.');
  }
}

/**
 * After opening: a database that has tables but none of Hitch's migration records belongs to
 * something else. Corruption shows here too (SQLite reads the schema): its message with the path.
 */
export function checkSqliteIsHitch(handle: SQLite.Database, file: string): void {
  let names: string[];
  try {
    names = (handle.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
  } catch (e) {
    throw sqliteOpenError(e, file);
  }
  if (names.length > 0 && !names.includes('kysely_migration')) {
    throw unusable(file, `it is another program's SQLite database (tables ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}); Hitch will not add its own to it`, 'Point --database-url or --data-dir at Hitch\'s database, or at a path that does not exist yet.');
  }
}

/** A SQLite error met while opening `file`, with the path and what to do. */
export function sqliteOpenError(e: unknown, file: string): HitchError {
  if (e instanceof HitchError) return e;
  const code = (e as { code?: string }).code ?? '';
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || /malformed|not a database/i.test(msg)) {
    return unusable(file, `it is corrupt (${code || msg})`, 'Restore it from a backup; `sqlite3 FILE .recover` may save what is left. Hitch does not start on a corrupt database.');
  }
  if (code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_IOERR' || /readonly|unable to open/i.test(msg)) {
    return unusable(file, `SQLite cannot open it for writing (${code || msg})`, 'Make the file and its directory writable by this user, on a writable file system.');
  }
  return unusable(file, `${code ? `${code}: ` : ''}${msg}`, 'Check the file; restore it from a backup if it is damaged.');
}

/**
 * Both checks, without writing anything: for a server's start, before it touches the data
 * directory. The database is opened read-only for the look and closed again.
 */
export function checkSqliteFile(file: string): void {
  checkSqliteFileBeforeOpen(file);
  if (!existsSync(file)) return;
  let handle: SQLite.Database | undefined;
  try {
    handle = new SQLite(file, { readonly: true, fileMustExist: true });
    checkSqliteIsHitch(handle, file);
  } catch (e) {
    throw sqliteOpenError(e, file);
  } finally {
    handle?.close();
  }
}
