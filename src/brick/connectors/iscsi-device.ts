/**
 * From a path's disk to the device the hypervisor gets: WWN, multipath map (waited for by
 * event, forced when multipathd does not create it, single-path fallback unless enforced),
 * read-only check against `access_mode`.
 */
import { HitchError } from '../../errors.ts';
import type { IscsiConnectionInfo } from '../connection-info.ts';
import { emitLog } from '../log.ts';
import * as mp from '../tools/multipath.ts';
import { dmName, holders, isReadOnly, readWwn, slaves } from '../tools/scsi.ts';
import { wwnFromSysfsWwid } from '../parsers/wwid.ts';
import { readIfPresent, realpathIfPresent } from '../tools/files.ts';
import type { BrickContext } from '../tools/run.ts';
import type { PathDevice } from './iscsi-path.ts';

/** What `connect_volume` returns, with os-brick's keys. */
export interface DeviceInfo {
  readonly type: 'block';
  /** `/dev/dm-N` for multipath, `/dev/sdX` for a single path. */
  readonly path: string;
  readonly scsi_wwn: string;
  readonly multipath_id?: string;
}

export interface FinishOptions {
  readonly multipath: boolean;
  readonly enforce: boolean;
  readonly timeouts: { readonly multipathMs: number };
  /** The map forcing already started on this volume's first disk (`forceMap`), if any. */
  readonly forced?: Promise<ForcedMap | null>;
}

/** What `forceMap` did: for which WWN, and whether multipathd took the path. */
export interface ForcedMap {
  readonly wwn: string;
  readonly dev: string;
  readonly daemonAnswered: boolean;
}

/**
 * Build the map for `dev`'s WWN now, on this one path, instead of waiting for multipathd's
 * own uevent handling (≈1 s, or never: find_multipaths waits for a second path, or for the
 * WWID to be in /etc/multipath/wwids): record the WWID, then add the path. Started as soon as
 * the disk exists, before udev is done with it, so it costs nothing on the attach's path;
 * the WWID being in the wwids file before udev's multipath rules run also means udev marks
 * the disk a multipath member at once. Slower portals join the map when they log in.
 * Null when the WWN cannot be read; never throws.
 */
export async function forceMap(ctx: BrickContext, dev: string): Promise<ForcedMap | null> {
  return ctx.span.run('force_map', { dev }, async (span) => {
    const c: BrickContext = { ...ctx, span };
    // Already in a map (multipathd was quicker, or the disk was mapped before): nothing to
    // force. One look at the disk's holders, read with its WWN (neither needs the other); a map
    // of this WWN over other paths only is not looked for — forcing then adds this path to it,
    // which it needs anyway.
    const [wwn, held] = await Promise.all([readWwn(c, dev).catch(() => null), holders(c, dev).then((h) => h[0], () => undefined)]);
    if (wwn === null) return null;
    span.set({ wwn });
    if (held !== undefined) {
      span.set({ dm: held });
      return { wwn, dev, daemonAnswered: true };
    }
    try {
      await mp.multipathAddWwid(c, wwn);
      await mp.multipathdAddPath(c, `/dev/${dev}`);
      return { wwn, dev, daemonAnswered: true };
    } catch (e) {
      // multipathd refusing the path (down, or the path blacklisted) means no map will come:
      // nobody should wait for one.
      emitLog(span, ctx.logger, 'warning', `Forcing the multipath map failed: ${e instanceof Error ? e.message : String(e)}`);
      return { wwn, dev, daemonAnswered: false };
    }
  });
}

/** The `dm-N` of the map for `wwn` if it exists now with a live path, else null. */
async function mapOf(ctx: BrickContext, wwn: string, span: BrickContext['span']): Promise<string | null> {
  const byId = `/dev/disk/by-id/dm-uuid-mpath-${wwn}`;
  const mapper = `/dev/mapper/${wwn}`;
  const target = (await realpathIfPresent(ctx, byId)) ?? (await realpathIfPresent(ctx, mapper));
  if (target === null) return null;
  const dm = target.split('/').pop() ?? '';
  // Usable means at least one live path under the map.
  const paths = await slaves({ ...ctx, span }, dm);
  span.set({ dm, paths: paths.join(',') });
  return paths.length > 0 ? dm : null;
}

/** Wait (by event, bounded) for the map of `wwn`: `dm-uuid-mpath-<WWN>`, then `/dev/mapper/<WWN>`. */
async function waitForMap(ctx: BrickContext, wwn: string, timeoutMs: number): Promise<string | null> {
  const byId = `/dev/disk/by-id/dm-uuid-mpath-${wwn}`;
  return ctx.span.run('wait multipath', { path: byId, timeoutMs }, async (span) => {
    await ctx.host.waitForPath(byId, { timeoutMs });
    return mapOf(ctx, wwn, span);
  });
}

export async function finishAttach(ctx: BrickContext, ci: IscsiConnectionInfo, p: PathDevice, opts: FinishOptions): Promise<DeviceInfo> {
  return ctx.span.run('find_device', { dev: p.dev }, async (span) => {
    const c: BrickContext = { ...ctx, span };
    // Forcing started when the first disk appeared; it has finished by now as a rule (udev's
    // links take longer than two commands). Wait for it anyway: nothing of this attach may
    // still be changing the map once it returns. It read this disk's WWN already.
    const early = opts.multipath && opts.forced ? await opts.forced : null;
    const wwn = early !== null && early.dev === p.dev ? early.wwn : await readWwn(c, p.dev);
    emitLog(span, ctx.logger, 'info', `Device WWN = '${wwn}'`);
    let dm: string | null = null;
    if (opts.multipath) {
      // The map forced over this disk holds it: one look at the disk's holders finds it.
      const held = early !== null && early.wwn === wwn ? (await holders(c, p.dev).catch(() => []))[0] : undefined;
      if (held !== undefined) span.set({ dm: held, paths: p.dev });
      dm = held ?? (await mapOf(c, wwn, span));
      if (!dm) {
        // For another WWN, or none started, force now.
        const forced = early !== null && early.wwn === wwn ? early : await forceMap(c, p.dev);
        const daemonAnswered = forced?.daemonAnswered ?? false;
        dm = daemonAnswered ? await waitForMap(c, wwn, opts.timeouts.multipathMs) : await mapOf(c, wwn, span);
      }
      if (!dm) {
        if (opts.enforce) throw new HitchError('HITCH_MULTIPATH_NOT_FOUND', { wwn });
        emitLog(span, ctx.logger, 'warning', `Unable to find multipath device name for volume. Using path /dev/${p.dev} for volume.`);
      }
    }
    const path = dm ? `/dev/${dm}` : `/dev/${p.dev}`;
    if (ci.accessMode === 'rw' && (await isReadOnly(c, path))) throw new HitchError('HITCH_DEVICE_READ_ONLY', { path });
    return dm ? { type: 'block', path, scsi_wwn: wwn, multipath_id: wwn } : { type: 'block', path, scsi_wwn: wwn };
  });
}

/** A path that logged in after the attach returned: make sure it is in the map. */
export async function joinMap(ctx: BrickContext, p: PathDevice, device: DeviceInfo): Promise<void> {
  await ctx.span.run('join_map', { dev: p.dev, map: device.path }, async (span) => {
    const dm = device.path.split('/').pop() ?? '';
    const c: BrickContext = { ...ctx, span };
    if (!(await holders(c, p.dev)).includes(dm)) await mp.multipathdAddPath(c, `/dev/${p.dev}`);
    emitLog(span, ctx.logger, 'info', `Path /dev/${p.dev} (${p.target.portal}) joined multipath device ${device.path}`);
  });
}

/** Remove the multipath maps holding `devs` (`multipath -f <name>`); failures returned. */
export async function flushMapsOf(ctx: BrickContext, devs: readonly string[]): Promise<string[]> {
  const failures: string[] = [];
  const maps = new Set<string>();
  for (const d of devs) for (const h of await holders(ctx, d).catch(() => [])) maps.add(h);
  for (const dm of maps) {
    const name = (await dmName(ctx, dm).catch(() => null)) ?? dm;
    try {
      await mp.multipathFlush(ctx, name);
    } catch (e) {
      failures.push(`multipath -f ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return failures;
}

/**
 * The WWNs that maps over `devs` are, or would be, named by: their holders' names and the disks'
 * own WWNs (read from sysfs, no command). Read before the disks go, for `flushLeftoverMaps`.
 */
export async function mapNamesFor(ctx: BrickContext, devs: readonly string[]): Promise<string[]> {
  const names = new Set<string>();
  for (const d of devs) {
    for (const h of await holders(ctx, d).catch(() => [])) {
      const n = await dmName(ctx, h).catch(() => null);
      if (n) names.add(n);
    }
    const wwn = await readWwnQuietly(ctx, d);
    if (wwn) names.add(wwn);
  }
  return [...names];
}

async function readWwnQuietly(ctx: BrickContext, dev: string): Promise<string | null> {
  try {
    const text = await readIfPresent(ctx, `/sys/block/${dev}/device/wwid`);
    return text === null ? null : wwnFromSysfsWwid(text);
  } catch {
    return null;
  }
}

/**
 * Once the paths are gone: flush any map of these names that is still there. multipathd may
 * re-create a map after our `multipath -f` from a path's uevent it had not handled yet; with no
 * path left nothing can re-create it again, so this is the last word. Failures returned.
 */
export async function flushLeftoverMaps(ctx: BrickContext, names: readonly string[], earlier: readonly string[] = []): Promise<string[]> {
  const failures: string[] = [];
  for (const name of names) {
    // A map whose first flush failed never went: that failure is reported already.
    if (earlier.some((f) => f.startsWith(`multipath -f ${name}:`))) continue;
    if (!(await ctx.host.exists(`/dev/mapper/${name}`).catch(() => false))) continue;
    emitLog(ctx.span, ctx.logger, 'info', `Multipath map ${name} is still there after its paths were removed; flushing it`);
    try {
      await mp.multipathFlush(ctx, name);
    } catch (e) {
      failures.push(`multipath -f ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return failures;
}
