/**
 * Secrets at rest: the database holds password hashes, tokens' hashes, CHAP secrets and
 * connection_info, so its files are the owner's alone. A new SQLite database file is created
 * 0600 before SQLite opens it; SQLite then gives its `-wal` and `-shm` files the database
 * file's own mode (the unix VFS copies it), so all three are 0600 whatever the umask.
 */
import { chmodSync, closeSync, constants, existsSync, openSync, statSync } from 'node:fs';

/** Create `file` empty with mode 0600 unless it exists (an empty file is what SQLite starts a new database from). */
export function createPrivateFile(file: string): void {
  if (existsSync(file)) return;
  try {
    closeSync(openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return;
  }
  chmodSync(file, 0o600); // the umask cannot add bits, but say it outright
}

/**
 * Take group and other bits off `path` when it has any and belongs to this user; true when it
 * did. A directory with the sticky bit (`/tmp` given as a data dir) or another user's file is
 * left alone: changing it could break what else lives there.
 */
export function tightenMode(path: string, mode: 0o600 | 0o700): boolean {
  let st;
  try {
    st = statSync(path);
  } catch {
    return false;
  }
  if ((st.mode & 0o077) === 0) return false;
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) return false;
  if (st.isDirectory() && (st.mode & 0o1000) !== 0) return false;
  chmodSync(path, mode);
  return true;
}
