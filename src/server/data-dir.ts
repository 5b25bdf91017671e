/**
 * The data directory, checked and made before anything is written in it (issue 23, defect 10):
 * its nearest existing ancestor must be a directory this user may write on a writable file
 * system; each missing level is created on its own (mode 0700), so a path under `/proc` or a
 * read-only mount fails at once with its name and the fix instead of looping in a recursive
 * mkdir; an existing directory must be writable.
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { HitchError } from '../errors.ts';

const why = (code: string | undefined): string =>
  code === 'EROFS' ? 'it is on a read-only file system'
    : code === 'EACCES' || code === 'EPERM' ? 'this user may not write there'
    : code === 'ENOTDIR' ? 'a part of the path is a file, not a directory'
    : code === 'ENOENT' ? 'the file system does not allow a directory there'
    : code === 'ENOSPC' ? 'the file system is full'
    : `the system refused (${code ?? 'unknown error'})`;

function unusable(path: string, reason: string): HitchError {
  return new HitchError('HITCH_DATA_DIR_UNUSABLE', { path, reason });
}

/** Make `dir` (and missing parents) or check the existing one; throws HITCH_DATA_DIR_UNUSABLE naming the path and the fix. */
export function prepareDataDir(dir: string): void {
  const full = resolve(dir);
  const missing: string[] = [];
  let at = full;
  for (;;) {
    let st;
    try {
      st = statSync(at);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw unusable(full, `${at}: ${why(code)}`);
      missing.unshift(at);
      const up = dirname(at);
      if (up === at) throw unusable(full, 'no part of the path exists');
      at = up;
      continue;
    }
    if (!st.isDirectory()) throw unusable(full, `${at} is not a directory`);
    break;
  }
  try {
    accessSync(at, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw unusable(full, `${at}: ${why((e as NodeJS.ErrnoException).code)}`);
  }
  for (const d of missing) {
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(d).isDirectory()) continue;
      throw unusable(full, `cannot create ${d}: ${why(code)}`);
    }
  }
}
