/**
 * From a path's disk to the device the hypervisor gets: WWN, multipath map (waited for by
 * event, forced when multipathd does not create it, single-path fallback unless enforced),
 * read-only check against `access_mode`.
 */
import { HitchError } from '../../errors.ts';
import type { BlockDeviceInfo } from '../../ports/attach.ts';
import type { IscsiVolume } from '../connection-info.ts';
import { emitLog } from '../log.ts';
import * as mp from '../tools/multipath.ts';
import { dmName, holders, isReadOnly, readWwn, slaves } from '../tools/scsi.ts';
import { wwnFromSysfsWwid } from '../parsers/wwid.ts';
import { readFilesIfPresent, readIfPresent, realpathIfPresent } from '../tools/files.ts';
import type { BrickContext } from '../tools/run.ts';
import type { PathDevice } from './iscsi-path.ts';

export interface FinishOptions {
  readonly multipath: boolean;
  readonly enforce: boolean;
  readonly timeouts: { readonly multipathMs: number; readonly mapGraceMs: number };
  /** The WWID recording already started on this volume's first disk (`prepareMap`), if any. */
  readonly forced?: Promise<PreparedMap | null>;
}

/** What `prepareMap` did: for which WWN, and whether multipath took the WWID. */
export interface PreparedMap {
  readonly wwn: string;
  readonly dev: string;
  /** `multipath -a` succeeded; false: the WWID is blacklisted (or multipath refused it), no map will come. */
  readonly recorded: boolean;
}

/**
 * As soon as the first disk exists in sysfs (before udev is done with it): record its WWID in
 * /etc/multipath/wwids (`multipath -a`), so that with `find_multipaths yes` or `strict` udev's
 * multipath rule marks the disk a multipath member and multipathd builds the map from udev's
 * own event, on the first path. Nothing is asked of multipathd yet: a `multipathd add path` sent
 * while udev still works on the disk is refused (`fail`: no ID_SERIAL in the udev database) and
 * leaves the path an orphan that multipathd's own uevent then skips as "already in pathvec" —
 * the map never comes (the first run on a real kernel, 8 of 10 connects). Null when the WWN
 * cannot be read; never throws.
 */
export async function prepareMap(ctx: BrickContext, dev: string): Promise<PreparedMap | null> {
  return ctx.span.run('record_wwid', { dev }, async (span) => {
    const c: BrickContext = { ...ctx, span };
    const wwn = await readWwn(c, dev).catch(() => null);
    if (wwn === null) return null;
    span.set({ wwn });
    const recorded = await mp.multipathAddWwid(c, wwn).catch(() => false);
    if (!recorded) emitLog(span, ctx.logger, 'warning', `multipath -a ${wwn} refused the WWID (blacklisted?): no multipath map will be built for it`);
    return { wwn, dev, recorded };
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

/**
 * Wait (bounded) for the map over `dev`: udev's `dm-uuid-mpath-<WWN>` link (an event), and the
 * disk's holders in sysfs (the map exists 0.4–0.9 s before udev links it on a real host).
 */
async function waitForMap(ctx: BrickContext, wwn: string, dev: string, timeoutMs: number, what: string): Promise<string | null> {
  const byId = `/dev/disk/by-id/dm-uuid-mpath-${wwn}`;
  return ctx.span.run(what, { path: byId, timeoutMs }, async (span) => {
    const c: BrickContext = { ...ctx, span };
    const stop = new AbortController();
    const held = (async (): Promise<string | null> => {
      // Holders have no event: looked at with backoff while the link is awaited.
      let pause = 50;
      const deadline = ctx.host.clock.now() + timeoutMs;
      while (!stop.signal.aborted && ctx.host.clock.now() < deadline) {
        const h = (await holders(c, dev).catch(() => []))[0];
        if (h !== undefined) return h;
        await ctx.host.clock.sleep(Math.min(pause, Math.max(0, deadline - ctx.host.clock.now())), stop.signal).catch(() => undefined);
        pause = Math.min(pause * 2, 500);
      }
      return null;
    })();
    const linked = ctx.host.waitForPath(byId, { timeoutMs, signal: stop.signal }).then(
      async (ok) => (ok ? mapOf(c, wwn, span) : null),
      () => null,
    );
    const first = await Promise.race([held, linked]);
    const dm = first ?? (await Promise.all([held, linked])).find((x) => x !== null) ?? null;
    stop.abort();
    await Promise.allSettled([held, linked]);
    if (dm) span.set({ dm });
    return dm;
  });
}

export async function finishAttach(ctx: BrickContext, ci: IscsiVolume, p: PathDevice, opts: FinishOptions): Promise<BlockDeviceInfo> {
  return ctx.span.run('find_device', { dev: p.dev }, async (span) => {
    const c: BrickContext = { ...ctx, span };
    // The WWID was recorded when the first disk appeared; that has finished by now as a rule
    // (udev's links take longer than one command). It read this disk's WWN already.
    const early = opts.multipath && opts.forced ? await opts.forced : null;
    const wwn = early !== null && early.dev === p.dev ? early.wwn : await readWwn(c, p.dev);
    emitLog(span, ctx.logger, 'info', `Device WWN = '${wwn}'`);
    let dm: string | null = null;
    if (opts.multipath) {
      const prepared = early !== null && early.wwn === wwn ? early : await prepareMap(c, p.dev);
      dm = (await holders(c, p.dev).catch(() => []))[0] ?? (await mapOf(c, wwn, span));
      // udev is done with the disk (its by-path link is there): multipathd, told by udev's event,
      // builds the map itself within a moment. Wait for that first.
      if (!dm && prepared?.recorded !== false) dm = await waitForMap(c, wwn, p.dev, opts.timeouts.mapGraceMs, 'wait multipath');
      if (!dm) {
        // Not built by itself: ask now that udev's database has the disk.
        const a = await mp.multipathdAddPath(c, `/dev/${p.dev}`);
        span.set({ addPathAnswer: a.answer || `exit ${a.code}` });
        if (a.code !== 0 || a.answer !== 'ok') {
          emitLog(span, ctx.logger, 'warning', `multipathd add path /dev/${p.dev} answered '${a.answer}' (exit ${a.code})${a.noMap ? ': no map will be built' : ''}`);
        }
        // `ok` does not mean a map: only the map appearing does. Wait for it unless the answer
        // rules it out (daemon down, path blacklisted).
        if (!a.noMap) dm = await waitForMap(c, wwn, p.dev, opts.timeouts.multipathMs, 'wait multipath after add path');
        // A map being built over the disk right now is the answer too: never hand out a disk a map holds.
        dm ??= (await holders(c, p.dev).catch(() => []))[0] ?? null;
      }
      if (!dm) {
        if (opts.enforce) throw new HitchError('HITCH_MULTIPATH_NOT_FOUND', { wwn });
        emitLog(span, ctx.logger, 'warning', `Unable to find multipath device name for volume. Using path /dev/${p.dev} for volume.`);
      } else {
        span.set({ dm, paths: (await slaves(c, dm).catch(() => [])).join(',') });
      }
    }
    const path = dm ? `/dev/${dm}` : `/dev/${p.dev}`;
    if (ci.accessMode === 'rw' && (await isReadOnly(c, path))) throw new HitchError('HITCH_DEVICE_READ_ONLY', { path });
    return dm ? { type: 'block', path, scsi_wwn: wwn, multipath_id: wwn } : { type: 'block', path, scsi_wwn: wwn };
  });
}

/**
 * A path that logged in after the attach returned: see that it joins the map. multipathd adds it
 * by itself from udev's event; only when it has not within the grace is it asked (`add path`,
 * now that udev is done with the disk), and then the join is awaited for `joinMs` — this runs in
 * the background, so a slow multipathd costs the caller nothing, and `signal` (the volume's
 * disconnect) ends the wait. Returns whether it joined.
 */
export async function joinMap(
  ctx: BrickContext,
  p: PathDevice,
  device: BlockDeviceInfo,
  timeouts: { readonly mapGraceMs: number; readonly joinMs: number },
  signal?: AbortSignal,
  opts: { readonly quietIfThere?: boolean } = {},
): Promise<boolean> {
  return ctx.span.run('join_map', { dev: p.dev, map: device.path }, async (span) => {
    const dm = device.path.split('/').pop() ?? '';
    const c: BrickContext = { ...ctx, span };
    const holderLink = `/sys/block/${p.dev}/holders/${dm}`;
    const wait = (timeoutMs: number): Promise<boolean> => ctx.host.waitForPath(holderLink, { timeoutMs, ...(signal ? { signal } : {}) }).catch(() => false);
    if (opts.quietIfThere && (await wait(0))) {
      span.set({ alreadyInMap: true });
      return true;
    }
    let joined = await wait(timeouts.mapGraceMs);
    if (!joined && !signal?.aborted) {
      const a = await mp.multipathdAddPath(c, `/dev/${p.dev}`);
      span.set({ addPathAnswer: a.answer || `exit ${a.code}` });
      if (!a.noMap) joined = await wait(timeouts.joinMs);
      if (!joined) {
        const why = signal?.aborted ? 'the volume is being disconnected' : `multipathd add path answered '${a.answer}' (exit ${a.code})`;
        emitLog(span, ctx.logger, 'warning', `Path /dev/${p.dev} (${p.target.portal}) did not join ${device.path}: ${why}`);
        return false;
      }
    }
    if (!joined) return false;
    emitLog(span, ctx.logger, 'info', `Path /dev/${p.dev} (${p.target.portal}) joined multipath device ${device.path}`);
    return true;
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
 * The names of the dm maps the kernel has now, from sysfs (`/sys/block/dm-N/dm/name`): a map
 * multipathd has just made is there at once, its `/dev/mapper/<name>` link only once udev has
 * handled it (0.4–0.9 s later on a real host). One glob, and one batched read when there is a map.
 */
async function mapsInSysfs(ctx: BrickContext): Promise<Set<string>> {
  const files = await ctx.host.glob('/sys/block/dm-*/dm/name').catch(() => [] as string[]);
  if (files.length === 0) return new Set();
  const texts = await readFilesIfPresent(ctx, files).catch(() => [] as Array<string | null>);
  return new Set(texts.flatMap((t) => (t === null ? [] : [t.trim()])));
}

/**
 * Once the paths are gone: flush any map of these names that is still there. multipathd may
 * re-create a map after our `multipath -f` from a path's uevent it had not handled yet (and a
 * multipathd that is not running then does not remove it when its last path goes); with no
 * path left nothing can re-create it again, so this is the last word. The map is looked for in
 * sysfs, not by its udev link, which may not be there yet. Failures returned.
 */
export async function flushLeftoverMaps(ctx: BrickContext, names: readonly string[], earlier: readonly string[] = []): Promise<string[]> {
  const failures: string[] = [];
  const todo = names.filter((name) => !earlier.some((f) => f.startsWith(`multipath -f ${name}:`)));
  // A map whose first flush failed never went: that failure is reported already.
  const present = todo.length > 0 ? await mapsInSysfs(ctx) : new Set<string>();
  for (const name of todo) {
    if (!present.has(name)) continue;
    emitLog(ctx.span, ctx.logger, 'info', `Multipath map ${name} is still there after its paths were removed; flushing it`);
    try {
      await mp.multipathFlush(ctx, name);
    } catch (e) {
      failures.push(`multipath -f ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return failures;
}
