/**
 * Disconnect an iSCSI volume: flush, remove the multipath map, delete every path's SCSI disk
 * and wait for it to go, then log out of and delete the node record of each session that no
 * other volume uses. Every failure is collected and reported together.
 */
import { HitchError } from '../../errors.ts';
import { targetKey, type IscsiVolume, type IscsiTarget } from '../connection-info.ts';
import { emitLog } from '../log.ts';
import * as iscsiadm from '../tools/iscsiadm.ts';
import * as mp from '../tools/multipath.ts';
import { deleteScsiDevice, dmName, flushBuffers, holders } from '../tools/scsi.ts';
import { readFilesIfPresent } from '../tools/files.ts';
import { wwnFromSysfsWwid } from '../parsers/wwid.ts';
import { failureCollector, type BrickContext } from '../tools/run.ts';
import type { PathTimeouts } from './iscsi-path.ts';
import { findSession, sessionDevices, sessionOfDisk } from './iscsi-sysfs.ts';
import { flushLeftoverMaps, mapNamesFor } from './iscsi-device.ts';
import type { IscsiHostState } from './iscsi-state.ts';

export interface DisconnectOptions {
  /** Go on removing devices even when flushing their buffers failed (data may be lost). */
  readonly force?: boolean;
  /** Report problems in the trace and logs only; do not throw. */
  readonly ignoreErrors?: boolean;
}

interface TargetState {
  readonly t: IscsiTarget;
  readonly sid: number | null;
  readonly ours: string[];
  readonly otherLuns: number;
}

/**
 * The maps' names (for `multipath -f`) and every name a map over `paths` has or would have
 * (for `flushLeftoverMaps`): the maps' `dm/name` and the disks' WWIDs, in one batched read.
 * Read file by file (`mapNamesFor`) if the batch fails.
 */
async function namesOf(ctx: BrickContext, maps: readonly string[], paths: readonly string[]): Promise<{ names: Map<string, string>; mapNames: string[] }> {
  const names = new Map<string, string>();
  let texts: Array<string | null>;
  try {
    texts = await readFilesIfPresent(ctx, [...maps.map((dm) => `/sys/block/${dm}/dm/name`), ...paths.map((d) => `/sys/block/${d}/device/wwid`)]);
  } catch {
    return { names, mapNames: await mapNamesFor(ctx, paths) };
  }
  const all = new Set<string>();
  maps.forEach((dm, i) => {
    const n = texts[i]?.trim();
    if (n) {
      names.set(dm, n);
      all.add(n);
    }
  });
  paths.forEach((_d, i) => {
    const text = texts[maps.length + i];
    const wwn = text === null || text === undefined ? null : wwnFromSysfsWwid(text);
    if (wwn) all.add(wwn);
  });
  return { names, mapNames: [...all] };
}

export async function disconnectIscsiVolume(
  ctx: BrickContext,
  state: IscsiHostState,
  ci: IscsiVolume,
  timeouts: PathTimeouts,
  opts: DisconnectOptions,
): Promise<void> {
  const failures: string[] = [];
  const attempt = failureCollector(failures);

  if (ci.targets.some((t) => state.claimsOnLun(t) > 1)) {
    // Another attachment on this host (multi-attach) still uses this very LUN.
    emitLog(ctx.span, ctx.logger, 'info', 'Volume is still attached elsewhere on this host; leaving its devices');
    state.unclaim(ci.targets);
    return;
  }

  const flushAbort = new Set<HitchError>();
  try {
    await state.locks.with(ci.targets.map(targetKey), async () => {
      // Possibly connected by an earlier process: if this disconnect leaves anything, the
      // reaper must know to come back for it.
      for (const t of ci.targets) state.own(t);
      const states: TargetState[] = [];
      for (const t of ci.targets) {
        // The session this connector remembers, else the one the volume's disk sits on (after
        // a restart); only when neither matches are all sessions looked at.
        const s = await findSession(ctx, t, { hints: [state.sessionHint(t), () => sessionOfDisk(ctx, t)] });
        const devs = s ? await sessionDevices(ctx, s) : [];
        states.push({
          t,
          sid: s ? s.sid : null,
          ours: devs.filter((d) => d.hctl.lun === t.lun).map((d) => d.dev),
          otherLuns: devs.filter((d) => d.hctl.lun !== t.lun).length,
        });
      }
      const paths = [...new Set(states.flatMap((s) => s.ours))];
      const maps = new Set<string>();
      for (const d of paths) for (const h of await holders(ctx, d)) maps.add(h);
      const { names, mapNames } = await namesOf(ctx, [...maps], paths);
      ctx.span.set({ paths: paths.join(','), maps: [...maps].join(',') });

      // Flush first: once the disks go, unwritten buffers are lost.
      const tops = maps.size > 0 ? [...maps] : paths;
      for (const dev of tops) {
        const ok = await attempt(`flush /dev/${dev}`, () => flushBuffers(ctx, `/dev/${dev}`));
        if (!ok && !opts.force && !opts.ignoreErrors) {
          // Removing a disk whose buffers did not reach the array would lose data.
          const e = new HitchError('HITCH_DISCONNECT_FAILED', { count: failures.length, detail: `${failures.join('; ')} (nothing removed; use force)` });
          flushAbort.add(e);
          throw e;
        }
      }
      for (const dm of maps) {
        const name = names.get(dm) ?? (await dmName(ctx, dm)) ?? dm;
        const flushed = await attempt(`multipath -f ${name}`, () => mp.multipathFlush(ctx, name));
        // Once the paths and the session are gone, only its name leads back to this map.
        if (!flushed) for (const t of ci.targets) state.unflushedMap(t, name);
      }
      for (const dev of paths) {
        if (maps.size > 0) await mp.multipathdDelPath(ctx, `/dev/${dev}`);
        await attempt(`delete /dev/${dev}`, () => deleteScsiDevice(ctx, dev));
      }
      await Promise.all(
        paths.map((dev) =>
          attempt(`wait for /dev/${dev} to go`, async () => {
            const gone = await ctx.span.run('wait gone', { path: `/dev/${dev}` }, () =>
              ctx.host.waitForPath(`/dev/${dev}`, { timeoutMs: timeouts.deleteMs, gone: true }),
            );
            if (!gone) throw new HitchError('HITCH_PATH_WAIT_TIMEOUT', { timeoutMs: timeouts.deleteMs, path: `/dev/${dev}`, what: 'disappear' });
          }),
        ),
      );

      for (const f of await flushLeftoverMaps(ctx, mapNames, [...failures])) failures.push(f);

      const done = new Set<string>();
      for (const s of states) {
        const key = targetKey(s.t);
        if (done.has(key)) continue;
        done.add(key);
        if (s.otherLuns > 0 || state.otherLunsClaimed(s.t)) {
          emitLog(ctx.span, ctx.logger, 'info', `Not logging out of ${s.t.portal} ${s.t.iqn}: the session carries other volumes`);
          continue;
        }
        if (s.sid !== null) {
          const t = s.t;
          await attempt(`logout ${t.portal}`, async () => {
            await iscsiadm.logout(ctx, t);
            state.forgetSession(t);
          });
        }
        await attempt(`delete node ${s.t.portal}`, () => iscsiadm.nodeDelete(ctx, s.t));
        // Any failure so far (a disk that would not go, a hung logout) leaves the target owned,
        // for the reaper to finish later.
        if (failures.length === 0) state.disown(s.t);
      }
    });
  } catch (e) {
    if (e instanceof HitchError && flushAbort.has(e)) throw e;
    // Anything unexpected (iscsiadm gone, sysfs unreadable) joins the collected problems.
    failures.push(e instanceof Error ? e.message : String(e));
  } finally {
    // After a refused flush the volume is still attached: it keeps its claim on the session.
    if (flushAbort.size === 0) state.unclaim(ci.targets);
  }

  if (failures.length > 0) {
    ctx.span.set({ failures: failures.join('; ') });
    emitLog(ctx.span, ctx.logger, 'warning', `disconnect_volume: ${failures.length} problem(s): ${failures.join('; ')}`);
    if (!opts.ignoreErrors) throw new HitchError('HITCH_DISCONNECT_FAILED', { count: failures.length, detail: failures.join('; ') });
  }
}
