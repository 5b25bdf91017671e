/**
 * Input checks shared by every Host implementation, so `LinuxHost` and `SimHost` refuse the
 * same things with the same catalog errors: a binary not on the allowlist, an argument with a
 * NUL byte (which would silently truncate it at the exec boundary), a path outside the roots
 * Hitch may touch, or a path with `..` components that could walk out of them.
 */
import { isIP } from 'node:net';
import { posix } from 'node:path';
import { HitchError } from '../errors.ts';

/** Throw unless `cmd` may be run with `args`. */
export function checkExec(cmd: string, args: readonly string[], allowlist: readonly string[]): void {
  if (typeof cmd !== 'string' || cmd.length === 0 || !allowlist.includes(cmd)) {
    throw new HitchError('HITCH_EXEC_NOT_ALLOWED', { cmd: JSON.stringify(String(cmd)) });
  }
  if (!Array.isArray(args)) {
    throw new HitchError('HITCH_EXEC_BAD_ARGUMENT', { cmd, index: '-', reason: 'list is not an array' });
  }
  args.forEach((a, index) => {
    if (typeof a !== 'string') {
      throw new HitchError('HITCH_EXEC_BAD_ARGUMENT', { cmd, index, reason: 'is not a string' });
    }
    if (a.includes('\0')) {
      throw new HitchError('HITCH_EXEC_BAD_ARGUMENT', { cmd, index, reason: 'contains a NUL byte' });
    }
  });
}

/** Throw unless `path` is absolute, normalised, NUL-free and under one of `roots`. */
export function checkPath(path: string, roots: readonly string[]): string {
  // Every host call passes here: the refusal's text is built only for a refusal.
  const refuse = (): HitchError => new HitchError('HITCH_PATH_NOT_ALLOWED', { path: JSON.stringify(String(path)), roots: roots.join(', ') });
  if (typeof path !== 'string' || path.includes('\0') || !path.startsWith('/')) throw refuse();
  if (path.includes('/..') && path.split('/').includes('..')) throw refuse();
  const norm = posix.normalize(path);
  for (const r of roots) if (norm === r || (norm.startsWith(r) && (r.endsWith('/') || norm.charCodeAt(r.length) === 47))) return norm;
  throw refuse();
}

/**
 * `checkPath` for a file to be replaced by rename (`writeFileAtomic`): sysfs, procfs and /dev
 * hold no regular files to replace, so paths there are refused too.
 */
export function checkReplaceablePath(path: string, roots: readonly string[]): string {
  const p = checkPath(path, roots);
  if (/^\/(sys|proc|dev)(\/|$)/.test(p)) {
    throw new HitchError('HITCH_PATH_NOT_ALLOWED', { path: JSON.stringify(p), roots: `${roots.filter((r) => !/^\/(sys|proc|dev)(\/|$)/.test(r)).join(', ')}; regular files only` });
  }
  return p;
}

/** A glob pattern is checked on its fixed prefix (the part before the first wildcard). */
export function checkGlob(pattern: string, roots: readonly string[]): void {
  const i = pattern.search(/[*?[]/);
  const prefix = i < 0 ? pattern : pattern.slice(0, pattern.lastIndexOf('/', i) + 1 || 1);
  checkPath(prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, roots);
  if (pattern.includes('\0') || pattern.split('/').includes('..')) {
    throw new HitchError('HITCH_PATH_NOT_ALLOWED', { path: JSON.stringify(pattern), roots: roots.join(', ') });
  }
}

/** Compile a shell-style glob component (`*`, `?`) to a RegExp. */
export function globComponentToRegExp(component: string): RegExp {
  const re = component.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`);
}

const HOST_NAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * Throw unless a TCP probe may go to `address`:`port` within `timeoutMs`: an IPv4 or IPv6
 * literal or a DNS host name (what `nvme connect -a` and iscsiadm's portals take), a port
 * 1–65535, a finite positive timeout. No allowlist: a probe sends no byte, it only asks
 * whether something answers.
 */
export function checkTcpProbe(address: string, port: number, timeoutMs: number): void {
  const bad = (reason: string): HitchError => new HitchError('HITCH_INVALID_ARGUMENT', { reason: `TCP probe: ${reason}` });
  if (typeof address !== 'string' || (isIP(address) === 0 && !(HOST_NAME_RE.test(address) && !/^[0-9.]+$/.test(address)))) {
    throw bad(`${JSON.stringify(String(address)).slice(0, 80)} is not an IP address or host name`);
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw bad(`port ${JSON.stringify(port)} is not 1-65535`);
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) throw bad(`timeout ${String(timeoutMs)} ms is not a positive number`);
}
