/**
 * The reaper: a safety net under every cleanup. A logout that hangs until its timeout, a disk
 * that appears after the connect gave up on it, a crash between two cleanup commands — each
 * leaves a node record, a session or a SCSI disk that no attachment needs, and nothing else
 * ever comes back for it. The reaper does: for every target this connector owns (see
 * `IscsiHostState.own`) that no attachment on the host needs, it removes what the host really
 * has of it — multipath maps over its disks, the disks, the session, the node record.
 *
 * It never touches a target that some attachment needs: those the caller names (`keep`: the
 * mappings the compute service has on this host, attached or in flight), those claimed by an
 * attach or detach running in this process, and those with a connect's portals still working
 * in the background; each is checked again under the target's own lock, which connects and
 * cleanups of that target also hold. It only touches targets it owns, never sessions someone
 * else made (an iSCSI root disk, another initiator's volumes). Idempotent: a target with
 * nothing left costs a look in sysfs and a node delete that answers 21.
 */
import { targetKey, type IscsiTarget } from '../connection-info.ts';
import { emitLog } from '../log.ts';
import * as iscsiadm from '../tools/iscsiadm.ts';
import * as mp from '../tools/multipath.ts';
import { deleteScsiDevice, flushBuffers, holders } from '../tools/scsi.ts';
import { failureCollector, type BrickContext } from '../tools/run.ts';
import { flushLeftoverMaps, flushMapsOf, mapNamesFor } from './iscsi-device.ts';
import type { PathTimeouts } from './iscsi-path.ts';
import { findSession, sessionDevices } from './iscsi-sysfs.ts';
import type { IscsiHostState } from './iscsi-state.ts';

export type TargetRef = Pick<IscsiTarget, 'portal' | 'iqn'>;

export interface ReapReport {
  /** Targets cleaned up (`portal,iqn`). */
  readonly reaped: readonly string[];
  /** What could not be removed this time; the targets stay owned for the next pass. */
  readonly failures: readonly string[];
  /** Owned targets left alone because an attachment needs them. */
  readonly kept: readonly string[];
  /**
   * Targets with a login iscsid may still complete (`portal,iqn until +Ns`): present only when
   * there are some. Another pass is due before that window ends.
   */
  readonly pending?: readonly string[];
}

export interface ReapOptions {
  /** Targets that attachments on this host need; asked for only when there is something to reap. */
  readonly keep: () => Promise<readonly TargetRef[]>;
  /** Targets to take ownership of first (what crash recovery found in the journal). */
  readonly adopt?: readonly TargetRef[];
}

export async function reapIscsiTargets(ctx: BrickContext, state: IscsiHostState, timeouts: PathTimeouts, opts: ReapOptions): Promise<ReapReport> {
  for (const t of opts.adopt ?? []) state.own(t);
  const busy = (t: TargetRef): boolean => state.targetClaimed(t) || state.backgroundOn(t);
  let candidates = state.reapable();
  if (candidates.length === 0) return { reaped: [], failures: [], kept: [] };
  const keep = new Set((await opts.keep()).map(targetKey));
  const kept = candidates.filter((t) => keep.has(targetKey(t))).map(targetKey);
  candidates = candidates.filter((t) => !keep.has(targetKey(t)));
  if (candidates.length === 0) return { reaped: [], failures: [], kept };

  const reaped: string[] = [];
  const failures: string[] = [];
  const pending: string[] = [];
  await ctx.span.run('reap', { targets: candidates.map(targetKey).join(' ') }, async (span) => {
    const c: BrickContext = { ...ctx, span };
    for (const t of candidates) {
      await state.locks.with([targetKey(t)], async () => {
        // An attach may have claimed it while we waited for the lock.
        if (busy(t)) return;
        const mine: string[] = [];
        const attempt = failureCollector(mine);
        const session = await findSession(c, t, { hints: [state.sessionHint(t)] }).catch((e: unknown) => (mine.push(`find session: ${String(e)}`), null));
        if (mine.length === 0 && session) {
          const devs = (await sessionDevices(c, session).catch(() => [])).map((d) => d.dev);
          const mapped = (await Promise.all(devs.map((d) => holders(c, d).catch(() => [])))).some((h) => h.length > 0);
          const names = await mapNamesFor(c, devs);
          mine.push(...(await flushMapsOf(c, devs)));
          for (const dev of devs) {
            // Nobody uses these disks any more; flush anyway, in case a write is still buffered.
            await flushBuffers(c, `/dev/${dev}`).catch(() => undefined);
            if (mapped) await mp.multipathdDelPath(c, `/dev/${dev}`).catch(() => undefined);
            await attempt(`delete /dev/${dev}`, () => deleteScsiDevice(c, dev));
          }
          for (const dev of devs) {
            await attempt(`wait for /dev/${dev} to go`, async () => {
              if (!(await ctx.host.waitForPath(`/dev/${dev}`, { timeoutMs: timeouts.deleteMs, gone: true }))) throw new Error('still there');
            });
          }
          mine.push(...(await flushLeftoverMaps(c, names, mine)));
          await attempt(`logout ${t.portal}`, async () => {
            await iscsiadm.logout(c, t);
            state.forgetSession(t);
          });
        }
        // Maps a cleanup could not flush, found by name: their paths (and so the session that
        // led to them) may be gone already.
        const unflushed = state.unflushedMaps(t);
        if (unflushed.length > 0) {
          const left = await flushLeftoverMaps(c, unflushed);
          if (left.length === 0) state.mapsFlushed(t);
          mine.push(...left);
        }
        if (mine.length === 0) await attempt(`delete node ${t.portal}`, () => iscsiadm.nodeDelete(c, t));
        // A login iscsid may still complete: the target stays owned until its window is over.
        const until = state.pendingLoginUntil(t);
        const now = ctx.host.clock.now();
        if (until !== null && now >= until) state.loginSettled(t);
        if (until !== null && now < until) pending.push(`${targetKey(t)} until +${Math.ceil((until - now) / 1000)} s`);
        if (session) emitLog(span, ctx.logger, until !== null ? 'warning' : 'info', `Found a session to ${t.portal} ${t.iqn} that no attachment needs${until !== null ? ' (a login given up on, completed by iscsid)' : ''}; removed it`);
        if (mine.length === 0) {
          state.disown(t);
          if (until === null || now >= until) {
            reaped.push(targetKey(t));
            emitLog(span, ctx.logger, 'info', `Reaped iSCSI target ${t.iqn} at ${t.portal}: no attachment on this host needs it`);
          }
        } else {
          failures.push(...mine);
        }
      });
    }
    span.set({ reaped: reaped.join(' '), ...(failures.length ? { failures: failures.join('; ') } : {}), ...(pending.length ? { pending: pending.join('; ') } : {}) });
  });
  return { reaped, failures, kept, ...(pending.length ? { pending } : {}) };
}
