/**
 * File reads where "not there" is an answer, in one Host call instead of `exists` + read (each
 * call is a syscall on a real host and a round trip through the simulator's daemon). Only the
 * Host's "no such file" (`HITCH_PATH_NOT_FOUND`, what LinuxHost makes of ENOENT and SimHost of
 * its tree's) means absent; any other failure still throws.
 */
import { isHitchError } from '../../errors.ts';
import type { BrickContext } from './run.ts';

/** Several files in one Host call (`Host.readFiles`): each content, or null where missing. */
export function readFilesIfPresent(ctx: BrickContext, paths: readonly string[]): Promise<Array<string | null>> {
  return ctx.host.readFiles(paths);
}

export function isMissing(e: unknown): boolean {
  return isHitchError(e, 'HITCH_PATH_NOT_FOUND');
}

/** What `read` answers, or `absent` when the Host says there is no such path. */
async function orIfMissing<T, A>(read: Promise<T>, absent: A): Promise<T | A> {
  try {
    return await read;
  } catch (e) {
    if (isMissing(e)) return absent;
    throw e;
  }
}

/** A file's content, or null when it does not exist. */
export function readIfPresent(ctx: BrickContext, path: string): Promise<string | null> {
  return orIfMissing(ctx.host.readFile(path), null);
}

/** A directory's entries, or none when it does not exist. */
export function listIfPresent(ctx: BrickContext, path: string): Promise<string[]> {
  return orIfMissing(ctx.host.readdir(path), []);
}

/** Where a link leads, or null when it (or what it points to) does not exist. */
export function realpathIfPresent(ctx: BrickContext, path: string): Promise<string | null> {
  return orIfMissing(ctx.host.realpath(path), null);
}
