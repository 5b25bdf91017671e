/**
 * Thin wrapper over `multipath` and `multipathd` (multipath-tools 0.9). `multipathd show status`
 * exits 1 when the daemon is down (fixture `multipathd-show-status-nodaemon.txt`).
 */
import { parseMultipathdStatus, type MultipathdStatus } from '../parsers/multipathd-status.ts';
import { run, type BrickContext } from './run.ts';

export const MULTIPATH_TIMEOUT_MS = 30_000;

/** `multipathd show status`; null when multipathd is not running. */
export async function multipathdStatus(ctx: BrickContext): Promise<MultipathdStatus | null> {
  const r = await run(ctx, 'multipathd', ['show', 'status'], { okCodes: 'any', timeoutMs: MULTIPATH_TIMEOUT_MS });
  return r.code === 0 ? parseMultipathdStatus(r.stdout) : null;
}

/** `multipath -a <wwid>`: add the WWID to /etc/multipath/wwids so multipathd will map it. */
export async function multipathAddWwid(ctx: BrickContext, wwn: string): Promise<void> {
  await run(ctx, 'multipath', ['-a', wwn], { timeoutMs: MULTIPATH_TIMEOUT_MS });
}

/** `multipathd add path /dev/sdX`: ask the daemon to (re)consider a path now. */
export async function multipathdAddPath(ctx: BrickContext, dev: string): Promise<void> {
  await run(ctx, 'multipathd', ['add', 'path', dev], { timeoutMs: MULTIPATH_TIMEOUT_MS });
}

/** `multipathd del path /dev/sdX`; failure is harmless (the path may be gone already). */
export async function multipathdDelPath(ctx: BrickContext, dev: string): Promise<void> {
  await run(ctx, 'multipathd', ['del', 'path', dev], { okCodes: 'any', timeoutMs: MULTIPATH_TIMEOUT_MS });
}

/** `multipath -f <map>`: flush (remove) the map; fails while the map is open. */
export async function multipathFlush(ctx: BrickContext, map: string): Promise<void> {
  await run(ctx, 'multipath', ['-f', map], { timeoutMs: MULTIPATH_TIMEOUT_MS });
}
