/**
 * One path of an iSCSI volume: node record, CHAP, login, targeted LUN scan, wait for the disk —
 * and the matching cleanup, which never logs out a session that carries another LUN.
 */
import { HitchError, isHitchError } from '../../errors.ts';
import { byPathLink, targetKey, type ChapCredentials, type IscsiTarget } from '../connection-info.ts';
import { emitLog } from '../log.ts';
import * as iscsiadm from '../tools/iscsiadm.ts';
import { deleteScsiDevice, scanLun, type Hctl } from '../tools/scsi.ts';
import type { BrickContext } from '../tools/run.ts';
import { sessionDevices, sessionTargets } from './iscsi-sysfs.ts';
import type { IscsiHostState } from './iscsi-state.ts';

export interface PathDevice {
  readonly target: IscsiTarget;
  readonly sid: number;
  readonly hctl: Hctl;
  /** Kernel name of the disk, e.g. `sdb`. */
  readonly dev: string;
  readonly byPath: string;
}

export interface PathTimeouts {
  /** How long a path's disk may take to appear after login, over all rescans. */
  readonly deviceMs: number;
  /** Targeted scans within `deviceMs` (the first included). */
  readonly scans: number;
  /** How long a deleted SCSI disk may take to disappear. */
  readonly deleteMs: number;
}

async function ensureNodeRecord(ctx: BrickContext, t: IscsiTarget, auth: ChapCredentials | null): Promise<void> {
  if (!(await iscsiadm.nodeRecordExists(ctx, t))) {
    await iscsiadm.nodeNew(ctx, t);
    // Without this the kernel scans every LUN the target exports to us, not just ours.
    await iscsiadm.nodeUpdate(ctx, t, 'node.session.scan', 'manual', { okCodes: 'any' });
  }
  if (auth) {
    await iscsiadm.nodeUpdate(ctx, t, 'node.session.auth.authmethod', auth.method);
    await iscsiadm.nodeUpdate(ctx, t, 'node.session.auth.username', auth.username);
    await iscsiadm.nodeUpdate(ctx, t, 'node.session.auth.password', auth.password, { secret: true });
  }
}

async function findSession(ctx: BrickContext, t: IscsiTarget): Promise<number | null> {
  const s = (await iscsiadm.listSessions(ctx)).find((x) => iscsiadm.sessionMatches(x, t));
  return s ? s.sid : null;
}

/** Log in (unless a session exists already, e.g. shared with another volume): the session id. */
async function ensureSession(ctx: BrickContext, t: IscsiTarget, signal: AbortSignal): Promise<number> {
  const existing = await findSession(ctx, t);
  if (existing !== null) {
    emitLog(ctx.span, ctx.logger, 'debug', `Reusing iSCSI session ${existing} to ${t.portal} ${t.iqn}`);
    return existing;
  }
  await iscsiadm.login(ctx, t, signal);
  await iscsiadm.nodeUpdate(ctx, t, 'node.startup', 'automatic');
  const sid = await findSession(ctx, t);
  if (sid === null) {
    throw new HitchError('HITCH_ISCSI_LOGIN_FAILED', { target: `${t.iqn} at ${t.portal}`, detail: 'no session after a successful login' });
  }
  return sid;
}

/**
 * Connect one path. The per-target lock covers only the node record and the login, so another
 * volume behind the same target shares the session safely, and the wait for the disk does not
 * hold anybody up.
 */
export async function connectPath(
  ctx: BrickContext,
  state: IscsiHostState,
  t: IscsiTarget,
  auth: ChapCredentials | null,
  timeouts: PathTimeouts,
  signal: AbortSignal,
): Promise<PathDevice> {
  const secrets = auth ? [auth.password] : undefined;
  return ctx.span.run('connect_path', { portal: t.portal, iqn: t.iqn, lun: t.lun }, async (span) => {
    const pctx: BrickContext = { ...ctx, span };
    emitLog(span, ctx.logger, 'info', `Trying to connect to iSCSI portal ${t.portal}`, secrets);
    let loggedIn = false;
    try {
      const sid = await state.locks.with([targetKey(t)], async () => {
        // Before the node record exists: whatever happens next, the reaper knows to look here.
        state.own(t);
        await ensureNodeRecord(pctx, t, auth);
        const s = await ensureSession(pctx, t, signal);
        loggedIn = true;
        return s;
      });
      span.set({ sid });
      const st = (await sessionTargets(pctx, sid))[0];
      const byPath = byPathLink(t);
      if (!st) throw new HitchError('HITCH_DEVICE_NOT_FOUND', { timeoutMs: 0, paths: `session${sid} has no SCSI target` });
      const per = Math.max(1, Math.ceil(timeouts.deviceMs / timeouts.scans));
      let found = false;
      for (let i = 0; i < timeouts.scans && !found; i++) {
        if (i > 0) emitLog(span, ctx.logger, 'info', `iSCSI volume not yet found at ${byPath}; rescanning, try ${i}`);
        await scanLun(pctx, st.host, st.channel, st.target, t.lun);
        found = await span.run('wait device', { path: byPath, timeoutMs: per }, () =>
          ctx.host.waitForPath(byPath, { timeoutMs: per, signal }),
        );
      }
      if (!found) throw new HitchError('HITCH_DEVICE_NOT_FOUND', { timeoutMs: timeouts.deviceMs, paths: byPath });
      const dev = (await ctx.host.realpath(byPath)).split('/').pop() ?? '';
      span.set({ dev });
      emitLog(span, ctx.logger, 'info', `Found iSCSI path ${byPath} -> /dev/${dev}`);
      return { target: t, sid, hctl: { host: st.host, channel: st.channel, target: st.target, lun: t.lun }, dev, byPath };
    } catch (e) {
      const why = isHitchError(e) ? e.code : 'error';
      emitLog(span, ctx.logger, 'warning', `Failed to connect to iSCSI portal ${t.portal}: ${why}; cleaning up`, secrets);
      // The abort signal belongs to the attach; cleanup must run even after an abort.
      await cleanupPath({ ...pctx, signal: undefined }, state, t, null, timeouts, { loggedIn }).catch(() => undefined);
      throw e;
    }
  });
}

/**
 * Undo one path: delete its disk (if any), then log out and delete the node record unless the
 * session carries another LUN (in sysfs, or claimed by another attach on this host).
 * Returns the failures instead of throwing, so callers can collect them.
 */
export async function cleanupPath(
  ctx: BrickContext,
  state: IscsiHostState,
  t: IscsiTarget,
  dev: string | null,
  timeouts: PathTimeouts,
  opts: { loggedIn: boolean },
): Promise<string[]> {
  const failures: string[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
    } catch (e) {
      failures.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  await ctx.span.run('cleanup_path', { portal: t.portal, iqn: t.iqn, lun: t.lun }, async (span) => {
    const c: BrickContext = { ...ctx, span };
    await state.locks.with([targetKey(t)], async () => {
      if (dev) {
        await attempt(`delete /dev/${dev}`, () => deleteScsiDevice(c, dev));
        await attempt(`wait for /dev/${dev} to go`, async () => {
          const gone = await ctx.host.waitForPath(`/dev/${dev}`, { timeoutMs: timeouts.deleteMs, gone: true });
          if (!gone) throw new HitchError('HITCH_PATH_WAIT_TIMEOUT', { timeoutMs: timeouts.deleteMs, path: `/dev/${dev}`, what: 'disappear' });
        });
      }
      if (state.otherLunsClaimed(t) || state.claimsOnLun(t) > 1) {
        emitLog(span, ctx.logger, 'info', `Keeping iSCSI session to ${t.portal}: other volumes use target ${t.iqn}`);
        return;
      }
      const sid = opts.loggedIn || dev ? await findSession(c, t).catch(() => null) : null;
      if (sid !== null) {
        const others = (await sessionDevices(c, sid).catch(() => [])).filter((d) => d.hctl.lun !== t.lun);
        if (others.length > 0) {
          emitLog(span, ctx.logger, 'info', `Keeping iSCSI session ${sid} to ${t.portal}: it carries ${others.length} other LUN(s)`);
          return;
        }
        await attempt(`logout ${t.portal}`, () => iscsiadm.logout(c, t));
      }
      await attempt(`delete node ${t.portal}`, () => iscsiadm.nodeDelete(c, t));
      // A failure here (a hung logout, a disk that appears after we gave up on it) leaves the
      // target owned: the reaper comes back for it.
      if (failures.length === 0) state.disown(t);
    });
    if (failures.length) span.set({ failures: failures.join('; ') });
  });
  return failures;
}
