/**
 * One path of an iSCSI volume: node record (with CHAP), login, targeted LUN scan, wait for the
 * disk — and the matching cleanup, which never logs out a session that carries another LUN.
 *
 * On the way to the disk only the login is a process: the node record is a file written in
 * open-iscsi's layout (`tools/node-record.ts`), sessions are looked up in sysfs before and
 * after the login, and the scan is a sysfs write. Where the host keeps node records elsewhere,
 * the record is made with iscsiadm as os-brick makes it.
 */
import { HitchError, isHitchError } from '../../errors.ts';
import { byPathLink, targetKey, type ChapCredentials, type IscsiTarget } from '../connection-info.ts';
import { emitLog } from '../log.ts';
import * as iscsiadm from '../tools/iscsiadm.ts';
import { writeNodeRecord } from '../tools/node-record.ts';
import { deleteScsiDevice, scanLun, type Hctl } from '../tools/scsi.ts';
import { failureCollector, type BrickContext } from '../tools/run.ts';
import { findSession, sessionAmongWithTargets, sessionAt, sessionDevices, sessionHostNo, sessionTargets, targetDisk, type KernelSession, type SessionTarget } from './iscsi-sysfs.ts';
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

/**
 * Make the node record. Returns whether it already says `node.startup = automatic` (the file
 * does; the iscsiadm way sets it after the login, as os-brick does).
 */
async function ensureNodeRecord(ctx: BrickContext, state: IscsiHostState, nodesDir: string | null, t: IscsiTarget, auth: ChapCredentials | null): Promise<boolean> {
  if (nodesDir !== null && (await writeNodeRecord(ctx, nodesDir, t, auth, state.nodeRecords))) return true;
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
  return false;
}

/**
 * Log in, unless this connector already knows a session to the target (another volume behind
 * it): one look at that session instead of a walk over all of them. Otherwise no look at all
 * before the login: iscsiadm answers 15 when the session exists already (a restart forgot it,
 * or someone else logged in), and then the session is looked up.
 */
async function ensureSession(ctx: BrickContext, state: IscsiHostState, t: IscsiTarget, signal: AbortSignal, startupSet: boolean): Promise<LoggedIn> {
  const hint = state.sessionHint(t);
  const known = hint === null ? null : await sessionAt(ctx, hint, t);
  if (known !== null) {
    emitLog(ctx.span, ctx.logger, 'debug', `Reusing iSCSI session ${known.sid} to ${t.portal} ${t.iqn}`);
    return { session: known, targets: null };
  }
  if (hint !== null) state.forgetSession(t);
  const login = state.startLogin();
  let code: number;
  try {
    code = await iscsiadm.login(ctx, t, signal);
  } catch (e) {
    // Killing iscsiadm (an abort, brick's own timeout) does not stop iscsid's retries: the
    // session may still appear, up to retry_max × login_timeout from now. The reaper watches.
    if (isHitchError(e, 'HITCH_ABORTED') || isHitchError(e, 'HITCH_EXEC_TIMEOUT')) {
      const windowMs = await loginWindowMs(ctx, state);
      state.loginPending(t, ctx.host.clock.now() + windowMs);
      emitLog(ctx.span, ctx.logger, 'info', `Gave up on the login to ${t.portal}; iscsid may still complete it within ${Math.round(windowMs / 1000)} s: the reaper watches for that session`);
    }
    throw e;
  } finally {
    login.end();
  }
  if (code === 0 && !startupSet) await iscsiadm.nodeUpdate(ctx, t, 'node.startup', 'automatic');
  // Sessions are numbered in login order and numbers are not reused: the new one is most
  // likely where startLogin guessed, checked in one read; else the walk, which looks at the
  // newest first.
  const guessed = await sessionAmongWithTargets(ctx, login.guesses, t);
  const s = guessed?.session ?? (await findSession(ctx, t));
  if (s === null) {
    throw new HitchError('HITCH_ISCSI_LOGIN_FAILED', { target: `${t.iqn} at ${t.portal}`, detail: 'no session after a successful login' });
  }
  if (code === 15) emitLog(ctx.span, ctx.logger, 'debug', `Reusing iSCSI session ${s.sid} to ${t.portal} ${t.iqn} (already logged in)`);
  state.rememberSession(t, s.sid);
  return { session: s, targets: guessed?.targets ?? null };
}

/**
 * How long iscsid may go on with a login after its caller gave up: `initial_login_retry_max`
 * attempts of `login_timeout` each (iscsid.conf's node settings, which new records take; Debian's
 * defaults 8 × 15 s), one attempt more for the one under way, and 5 s for the kernel's part.
 */
async function loginWindowMs(ctx: BrickContext, state: IscsiHostState): Promise<number> {
  const d = await state.nodeRecords.defaults(ctx).catch(() => new Map<string, string>());
  const timeoutS = Number(d.get('node.conn[0].timeo.login_timeout') ?? 15);
  const retries = Number(d.get('node.session.initial_login_retry_max') ?? 8);
  const t = Number.isFinite(timeoutS) && timeoutS > 0 ? timeoutS : 15;
  const r = Number.isFinite(retries) && retries >= 0 ? retries : 8;
  return (t * (r + 1) + 5) * 1000;
}

/** The session a path logged in to (or found), and its SCSI targets when they were read on the way. */
interface LoggedIn {
  readonly session: KernelSession;
  readonly targets: SessionTarget[] | null;
}

export interface PathOptions {
  readonly timeouts: PathTimeouts;
  /** open-iscsi's node record directory (`/etc/iscsi/nodes` on Debian). */
  readonly nodesDir: string;
  /** Write the record there as a file (else `iscsiadm -o new/update`; see `IscsiConnectorOptions`). */
  readonly nodeRecordFiles: boolean;
  /**
   * Awaited before the path's first LUN scan: the first path of a volume scans at once, the
   * others once its WWID is recorded, so udev's multipath rule sees the WWID for every later
   * path (with `find_multipaths strict` a path udev judged before the WWID was known was mapped
   * and then dropped from the map again on a real host).
   */
  readonly beforeScan?: () => Promise<() => void>;
  /**
   * Called once, as soon as the path's SCSI disk exists (right after the scan, before udev
   * has made its links): multipath starts building the map then, overlapping udev's work.
   */
  readonly onDisk?: (dev: string) => void;
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
  opts: PathOptions,
  signal: AbortSignal,
): Promise<PathDevice> {
  const { timeouts } = opts;
  const secrets = auth ? [auth.password] : undefined;
  return ctx.span.run('connect_path', { portal: t.portal, iqn: t.iqn, lun: t.lun }, async (span) => {
    const pctx: BrickContext = { ...ctx, span };
    emitLog(span, ctx.logger, 'info', `Trying to connect to iSCSI portal ${t.portal}`, secrets);
    let loggedIn = false;
    try {
      const { session, targets } = await state.locks.with([targetKey(t)], async () => {
        // Before the node record exists: whatever happens next, the reaper knows to look here.
        state.own(t);
        const startupSet = await ensureNodeRecord(pctx, state, opts.nodeRecordFiles ? opts.nodesDir : null, t, auth);
        const s = await ensureSession(pctx, state, t, signal, startupSet);
        loggedIn = true;
        return s;
      });
      const sid = session.sid;
      span.set({ sid });
      // With manual scan a real kernel has no SCSI target for the session before its first scan.
      let st = (targets ?? (await sessionTargets(pctx, session)))[0];
      const hostNo = st?.host ?? (await sessionHostNo(pctx, session));
      const byPath = byPathLink(t);
      if (hostNo === null) throw new HitchError('HITCH_DEVICE_NOT_FOUND', { timeoutMs: 0, paths: `session${sid} has no SCSI host` });
      const per = Math.max(1, Math.ceil(timeouts.deviceMs / timeouts.scans));
      let found = false;
      let announced = false;
      // The disk's kernel name, once seen in sysfs: then udev's link need not be resolved.
      let seen: string | null = null;
      const scanned = opts.beforeScan ? await opts.beforeScan() : (): void => undefined;
      try {
      for (let i = 0; i < timeouts.scans && !found; i++) {
        if (i > 0) emitLog(span, ctx.logger, 'info', `iSCSI volume not yet found at ${byPath}; rescanning, try ${i}`);
        await scanLun(pctx, hostNo, st?.channel ?? '-', st?.target ?? '-', t.lun);
        // The wait for udev's link starts with the look for the disk in sysfs: neither needs the
        // other. A look that fails ends the wait too.
        const lookFailed = new AbortController();
        const waitSignal = AbortSignal.any([signal, lookFailed.signal]);
        const waiting = span.run('wait device', { path: byPath, timeoutMs: per }, () => ctx.host.waitForPath(byPath, { timeoutMs: per, signal: waitSignal }));
        const looking = (async (): Promise<void> => {
          if (!opts.onDisk || announced) return;
          // The scan write returns once the kernel has added the disk: it is in sysfs now,
          // while udev has yet to make its links.
          st ??= (await sessionTargets(pctx, session))[0];
          const disk = st ? await targetDisk(pctx, st, t.lun) : null;
          if (disk) {
            announced = true;
            seen = disk.dev;
            opts.onDisk(disk.dev);
          }
        })().catch((e: unknown) => {
          lookFailed.abort(e);
          throw e;
        });
        // Both settle before either's failure is thrown: nothing of this path outlives it.
        const [look, wait] = await Promise.allSettled([looking, waiting]);
        if (look.status === 'rejected') throw look.reason;
        if (wait.status === 'rejected') throw wait.reason;
        found = wait.value;
      }
      } finally {
        scanned();
      }
      if (!found) throw new HitchError('HITCH_DEVICE_NOT_FOUND', { timeoutMs: timeouts.deviceMs, paths: byPath });
      // The link is udev's name for the disk of this session's LUN, the one sysfs showed.
      const dev = seen ?? (await ctx.host.realpath(byPath)).split('/').pop() ?? '';
      span.set({ dev });
      emitLog(span, ctx.logger, 'info', `Found iSCSI path ${byPath} -> /dev/${dev}`);
      // The link is udev's name for this LUN of this session: the disk sits at C:T of its target.
      st ??= (await sessionTargets(pctx, session))[0];
      const hctl = { host: st?.host ?? hostNo, channel: st?.channel ?? 0, target: st?.target ?? 0, lun: t.lun };
      return { target: t, sid, hctl, dev, byPath };
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
  const attempt = failureCollector(failures);
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
      const session = opts.loggedIn || dev ? await findSession(c, t, { hints: [state.sessionHint(t)] }).catch(() => null) : null;
      if (session !== null) {
        const others = (await sessionDevices(c, session).catch(() => [])).filter((d) => d.hctl.lun !== t.lun);
        if (others.length > 0) {
          emitLog(span, ctx.logger, 'info', `Keeping iSCSI session ${session.sid} to ${t.portal}: it carries ${others.length} other LUN(s)`);
          return;
        }
        await attempt(`logout ${t.portal}`, async () => {
          await iscsiadm.logout(c, t);
          state.forgetSession(t);
        });
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
