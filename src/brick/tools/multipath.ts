/**
 * Thin wrapper over `multipath` and `multipathd` (multipath-tools 0.9). `multipathd show status`
 * exits 1 when the daemon is down (fixture `multipathd-show-status-nodaemon.txt`).
 */
import { parseMultipathdStatus, type MultipathdStatus } from '../parsers/multipathd-status.ts';
import { HitchError } from '../../errors.ts';
import { emitLog } from '../log.ts';
import { run, type BrickContext } from './run.ts';

export const MULTIPATH_TIMEOUT_MS = 30_000;

/** `multipathd show status`; null when multipathd is not running. */
export async function multipathdStatus(ctx: BrickContext): Promise<MultipathdStatus | null> {
  const r = await run(ctx, 'multipathd', ['show', 'status'], { okCodes: 'any', timeoutMs: MULTIPATH_TIMEOUT_MS });
  return r.code === 0 ? parseMultipathdStatus(r.stdout) : null;
}

/**
 * `multipath -a <wwid>`: add the WWID to /etc/multipath/wwids, so that udev's multipath rule and
 * multipathd (find_multipaths `yes` or `strict`) treat its paths as multipath members from the
 * first one. False when multipath refuses (multipath-tools 0.9.4 answers a blacklisted WWID with
 * exit 1 and no output): no map will be built for it.
 */
export async function multipathAddWwid(ctx: BrickContext, wwn: string): Promise<boolean> {
  const r = await run(ctx, 'multipath', ['-a', wwn], { okCodes: 'any', timeoutMs: MULTIPATH_TIMEOUT_MS });
  return r.code === 0;
}

/** What multipathd answered to `add path`. */
export interface AddPathAnswer {
  readonly code: number;
  /** multipathd's reply on stdout: `ok`, `fail`, `blacklisted`, … (empty when the daemon is down). */
  readonly answer: string;
  /**
   * The answer rules a map out: the daemon is not running (exit 1, nothing on stdout) or the path
   * is blacklisted. Any other answer — `ok` included — says nothing either way: multipath-tools
   * 0.9.4 answers `ok` when it builds no map (`find_multipaths yes` with one path), and `fail`
   * when udev has not yet stored the disk's ID_SERIAL, while its own uevent handling may build
   * the map a moment later. Only the map appearing says a map exists.
   */
  readonly noMap: boolean;
}

/** `multipathd add path /dev/sdX`: ask the daemon to (re)consider a path now. Never throws for an answer. */
export async function multipathdAddPath(ctx: BrickContext, dev: string): Promise<AddPathAnswer> {
  const r = await run(ctx, 'multipathd', ['add', 'path', dev], { okCodes: 'any', timeoutMs: MULTIPATH_TIMEOUT_MS });
  const answer = r.stdout.trim();
  const down = r.code !== 0 && answer === '';
  return { code: r.code, answer, noMap: down || /blacklisted/i.test(answer) };
}

/** `multipathd del path /dev/sdX`; failure is harmless (the path may be gone already). */
export async function multipathdDelPath(ctx: BrickContext, dev: string): Promise<void> {
  await run(ctx, 'multipathd', ['del', 'path', dev], { okCodes: 'any', timeoutMs: MULTIPATH_TIMEOUT_MS });
}

/**
 * Pauses between `multipath -f` attempts while the map is busy (8.75 s in all). Something holds
 * a map open for a moment after it changes: udev's rules probe it (blkid) on the change event
 * that closing a device written to raises (the disconnect's own `blockdev --flushbufs`, a case's
 * I/O), and multipathd reloads it when a path goes. multipath-tools 0.9.4 (on the storage host
 * guest) answers either way, exit 1, depending on when the probe opened it:
 * - before multipath's open-count check: `<map>: map in use`;
 * - between that check and the remove ioctl: `libdevmapper: ioctl/libdm-iface.c(1980):
 *   device-mapper: remove ioctl on <map>  failed: Device or resource busy` and `failed to remove
 *   multipath map <map>` (main's CI, case healthy-multipath-no).
 * The same flush a moment later succeeds. os-brick runs `multipath -f` up to three times, with
 * growing pauses, whatever the failure.
 */
export const FLUSH_BUSY_PAUSES_MS: readonly number[] = [250, 500, 1000, 2000, 5000];

/** multipath's answers for a map something holds open (both are transient; see above). */
const BUSY = /map in use|Device or resource busy/;

/**
 * `multipath -f <map>`: flush (remove) the map. While the map is busy (`BUSY`) it is tried again
 * after each of `FLUSH_BUSY_PAUSES_MS`, on the host's clock; any other failure, or still busy
 * after the last pause, throws with multipath's own words.
 */
export async function multipathFlush(ctx: BrickContext, map: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const r = await run(ctx, 'multipath', ['-f', map], { okCodes: 'any', timeoutMs: MULTIPATH_TIMEOUT_MS });
    if (r.code === 0) return;
    const said = `${r.stderr}\n${r.stdout}`;
    const pause = FLUSH_BUSY_PAUSES_MS[attempt];
    if (pause !== undefined && BUSY.test(said)) {
      emitLog(ctx.span, ctx.logger, 'info', `multipath -f ${map}: the map is busy (${BUSY.exec(said)?.[0] ?? ''}); trying again in ${pause} ms`);
      await ctx.host.clock.sleep(pause, ctx.signal);
      continue;
    }
    const err = r.stderr.trim();
    const out = r.stdout.trim();
    throw new HitchError('HITCH_EXEC_FAILED', { command: `multipath -f ${map}`, exitCode: r.code, stderr: err && out ? `${err} (stdout: ${out})` : err || out });
  }
}
