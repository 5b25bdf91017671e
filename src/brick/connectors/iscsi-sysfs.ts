/**
 * What the kernel says about iSCSI sessions, read from sysfs instead of asking iscsiadm (which
 * reads the same files, in a process that costs more than the whole lookup):
 *
 *   /sys/class/iscsi_session/session1/targetname              iqn.2010-10.org.openstack:volume-0001
 *   /sys/class/iscsi_connection/connection1:0/persistent_address   192.0.2.10   (persistent_port 3260)
 *   /sys/class/iscsi_session/session1 -> ../../devices/platform/host2/session1/iscsi_session/session1
 *   /sys/devices/platform/host2/session1/target2:0:0/2:0:0:1/block/sdb
 *
 * The persistent address is the portal the session was logged in to (`iscsiadm -m session`
 * prints it too); `address` can differ after a target redirect.
 *
 * Every lookup here costs a fixed number of Host calls, whatever else the host is logged in
 * to: each read is a syscall on a real host and a round trip through the simulator's daemon,
 * and a host with a hundred volumes has a hundred sessions. A session is looked up by number
 * when the caller knows it (the connector remembers the sessions it logged in, and a disk's
 * sysfs path names its session); only without that does `findSession` walk the sessions, from
 * the newest down, which after a login finds the new one first.
 */
import { byPathLink, type IscsiTarget } from '../connection-info.ts';
import { isMissing, listIfPresent, readFilesIfPresent, realpathIfPresent } from '../tools/files.ts';
import { recordAddress } from '../tools/node-record.ts';
import { parseHctl, type Hctl } from '../tools/scsi.ts';
import type { BrickContext } from '../tools/run.ts';

const SESSIONS = '/sys/class/iscsi_session';
const CONNECTIONS = '/sys/class/iscsi_connection';

/** One iSCSI session of the kernel. */
export interface KernelSession {
  readonly sid: number;
  readonly iqn: string;
  /** The portal it was logged in to (`persistent_address`, IPv6 without brackets). */
  readonly address: string;
  readonly port: string;
  /**
   * Its device directory (the SCSI targets are in it), reached through the class device's
   * `device` link, `/sys/class/iscsi_session/sessionS/device`, without resolving where that
   * leads (`/sys/devices/platform/hostH/sessionS`); the SCSI host number is then read from a
   * target's name (`targetH:C:T`), or — only while the session has no target — from where the
   * link leads (`sessionHostNo`).
   */
  readonly dir: string;
}

/**
 * A session attribute's value, or null when it cannot be read: the session may end while we
 * read it, and some attributes of a session in recovery answer with an error instead of a value.
 */
async function attr(ctx: BrickContext, path: string): Promise<string | null> {
  try {
    return (await ctx.host.readFile(path)).trim();
  } catch {
    return null;
  }
}

/** `/sys/devices/platform/hostH/sessionS` and `H`, from where `/sys/class/iscsi_session/sessionS` points. */
async function placeOf(ctx: BrickContext, sid: number): Promise<{ dir: string | null; hostNo: number | null }> {
  try {
    const real = await ctx.host.realpath(`${SESSIONS}/session${sid}`);
    const m = /^(.*\/host(\d+)\/session\d+)\/iscsi_session\/session\d+$/.exec(real);
    return m ? { dir: m[1] ?? null, hostNo: Number(m[2]) } : { dir: null, hostNo: null };
  } catch {
    return { dir: null, hostNo: null };
  }
}

/** The files that say which target and portal session `sid` is logged in to (see `sessionFrom`). */
function attrPaths(sid: number): string[] {
  const conn = `${CONNECTIONS}/connection${sid}:0`;
  return [`${SESSIONS}/session${sid}/targetname`, `${conn}/persistent_address`, `${conn}/persistent_port`, `${conn}/address`, `${conn}/port`];
}

/** Session `sid` from the values of its `attrPaths` (trimmed; null: unreadable) if it is logged in to `t` at its portal, else null. */
function sessionFrom(sid: number, attrs: ReadonlyArray<string | null>, t: Pick<IscsiTarget, 'portal' | 'iqn'>): KernelSession | null {
  const [targetname, pAddress, pPort, cAddress, cPort] = attrs;
  if (targetname !== t.iqn) return null;
  const want = recordAddress(t.portal);
  const address = pAddress ?? cAddress ?? null;
  if (address === null || address.toLowerCase() !== want.address.toLowerCase()) return null;
  const port = pPort ?? cPort ?? null;
  if (port !== want.port) return null;
  return { sid, iqn: t.iqn, address, port, dir: `${SESSIONS}/session${sid}/device` };
}

const trimmed = (v: string | null | undefined): string | null => (v === null || v === undefined ? null : v.trim());

/**
 * The session's target name and portal attributes, in one batched read; attribute by attribute
 * (an unreadable one as null) when the batch fails, as it does if one of them answers an error.
 */
async function sessionAttrs(ctx: BrickContext, sid: number): Promise<Array<string | null>> {
  const paths = attrPaths(sid);
  try {
    return (await readFilesIfPresent(ctx, paths)).map(trimmed);
  } catch {
    return Promise.all(paths.map((p) => attr(ctx, p)));
  }
}

/**
 * The first of sessions `sids` logged in to target `t` at its portal, else null: one batched
 * read for all of them (a number with no session reads as missing).
 */
export async function sessionAmong(ctx: BrickContext, sids: readonly number[], t: Pick<IscsiTarget, 'portal' | 'iqn'>): Promise<KernelSession | null> {
  if (sids.length === 0) return null;
  let texts: Array<string | null>;
  try {
    texts = await readFilesIfPresent(ctx, sids.flatMap(attrPaths));
  } catch {
    return null;
  }
  const n = attrPaths(0).length;
  for (const [i, sid] of sids.entries()) {
    const s = sessionFrom(sid, texts.slice(i * n, (i + 1) * n).map(trimmed), t);
    if (s) return s;
  }
  return null;
}

/** Session `sid` if it is logged in to target `t` at its portal, else null: 1 read. */
export async function sessionAt(ctx: BrickContext, sid: number, t: Pick<IscsiTarget, 'portal' | 'iqn'>): Promise<KernelSession | null> {
  return sessionFrom(sid, await sessionAttrs(ctx, sid), t);
}

/**
 * The session number a path's disk belongs to, from its sysfs device path (2 calls; null when
 * the disk or its udev link is not there): `/dev/disk/by-path/…-lun-L` → `/dev/sdX`, and
 * `/sys/block/sdX/device` → `…/hostH/sessionS/targetH:C:T/H:C:T:L`.
 */
export async function sessionOfDisk(ctx: BrickContext, t: IscsiTarget): Promise<number | null> {
  const dev = (await realpathIfPresent(ctx, byPathLink(t)))?.split('/').pop() ?? '';
  if (!/^sd[a-z]+$/.test(dev)) return null;
  const device = await realpathIfPresent(ctx, `/sys/block/${dev}/device`);
  const m = device === null ? null : /\/session(\d+)\/target\d+:\d+:\d+\/\d+:\d+:\d+:\d+$/.exec(device);
  return m ? Number(m[1]) : null;
}

export interface FindSessionOptions {
  /**
   * Session numbers to try first, in order: a number, or a function that finds one (called
   * only when the hints before it did not match), e.g. remembered from the login, or read from
   * the path of the volume's disk (`sessionOfDisk`).
   */
  readonly hints?: ReadonlyArray<number | null | (() => Promise<number | null>)>;
}

/**
 * The session (if any) logged in to target `t` at its portal: `iscsiadm -m session` without a
 * process. The hints cost O(1) calls each; without a hint that matches, every session is looked
 * at, newest (highest number) first — right after a login the new session is found at once.
 */
export async function findSession(ctx: BrickContext, t: Pick<IscsiTarget, 'portal' | 'iqn'>, opts: FindSessionOptions = {}): Promise<KernelSession | null> {
  const tried = new Set<number>();
  for (const hint of opts.hints ?? []) {
    const sid = typeof hint === 'function' ? await hint() : hint;
    if (sid === null || tried.has(sid)) continue;
    tried.add(sid);
    const s = await sessionAt(ctx, sid, t);
    if (s) return s;
  }
  const sids = (await listIfPresent(ctx, SESSIONS))
    .map((e) => /^session(\d+)$/.exec(e))
    .flatMap((m) => (m ? [Number(m[1])] : []))
    .filter((sid) => !tried.has(sid))
    .sort((a, b) => b - a);
  for (const sid of sids) {
    const s = await sessionAt(ctx, sid, t);
    if (s) return s;
  }
  return null;
}

export interface SessionTarget {
  readonly host: number;
  readonly channel: number;
  readonly target: number;
  /** `/sys/devices/platform/hostH/sessionS/targetH:C:T` */
  readonly dir: string;
}

export interface SessionDevice {
  readonly hctl: Hctl;
  /** Kernel name, e.g. `sdb`. */
  readonly dev: string;
}

/** Session `s`'s SCSI host number, from where its sysfs directory is (1 call); null if sysfs does not say. */
export async function sessionHostNo(ctx: BrickContext, s: KernelSession): Promise<number | null> {
  return (await placeOf(ctx, s.sid)).hostNo;
}

/**
 * The SCSI target(s) the kernel created for session `s` (none until the first scan, with
 * manual scan): 1 call; 2 more where the session has no `device` link (a scripted test host).
 */
export async function sessionTargets(ctx: BrickContext, s: KernelSession): Promise<SessionTarget[]> {
  try {
    return targetsIn(s.dir, await ctx.host.readdir(s.dir));
  } catch (e) {
    if (!isMissing(e)) throw e;
    const place = await placeOf(ctx, s.sid);
    if (place.dir === null) return [];
    return targetsIn(place.dir, await listIfPresent(ctx, place.dir));
  }
}

/** The `targetH:C:T` entries of a session's device directory `dir`. */
function targetsIn(dir: string, entries: readonly string[]): SessionTarget[] {
  const out: SessionTarget[] = [];
  for (const e of entries) {
    const m = /^target(\d+):(\d+):(\d+)$/.exec(e);
    if (m) out.push({ host: Number(m[1]), channel: Number(m[2]), target: Number(m[3]), dir: `${dir}/${e}` });
  }
  return out;
}

/**
 * `sessionAmong`, and the SCSI targets of the session found when it is the first of `sids`: that
 * session's device directory is listed in the same round as the attributes are read. Right
 * after a login the first guess is the new session as a rule, and the scan needs its targets
 * next, so the path saves a round trip. `targets` is null when the session found is another one
 * (or its directory could not be listed): `sessionTargets` then.
 */
export async function sessionAmongWithTargets(
  ctx: BrickContext,
  sids: readonly number[],
  t: Pick<IscsiTarget, 'portal' | 'iqn'>,
): Promise<{ session: KernelSession; targets: SessionTarget[] | null } | null> {
  const first = sids[0];
  if (first === undefined) return null;
  const dir = `${SESSIONS}/session${first}/device`;
  const [session, entries] = await Promise.all([sessionAmong(ctx, sids, t), ctx.host.readdir(dir).catch(() => null)]);
  if (session === null) return null;
  return { session, targets: session.sid === first && entries !== null ? targetsIn(dir, entries) : null };
}

/** The disk of LUN `lun` on SCSI target `st`, if the kernel has it: 1 call. */
export async function targetDisk(ctx: BrickContext, st: SessionTarget, lun: number): Promise<SessionDevice | null> {
  const hctl: Hctl = { host: st.host, channel: st.channel, target: st.target, lun };
  const dev = (await listIfPresent(ctx, `${st.dir}/${hctl.host}:${hctl.channel}:${hctl.target}:${lun}/block`))[0];
  return dev === undefined ? null : { hctl, dev };
}

/**
 * Every SCSI disk of session `s`, with its H:C:T:L: 1 call, a glob over its targets' LUNs'
 * `block` directories (`…/sessionS/target*\/*\/block/*`), however many targets and LUNs. A Host
 * that cannot glob (a scripted test host) is walked directory by directory instead.
 */
export async function sessionDevices(ctx: BrickContext, s: KernelSession): Promise<SessionDevice[]> {
  let paths: string[];
  try {
    paths = await ctx.host.glob(`${s.dir}/target*/*/block/*`);
  } catch {
    return walkSessionDevices(ctx, s);
  }
  // Nothing: no disk, or no `device` link to glob through. Only the walk tells them apart.
  if (paths.length === 0) return walkSessionDevices(ctx, s);
  const out: SessionDevice[] = [];
  const prefix = `${s.dir}/`;
  for (const p of paths) {
    if (!p.startsWith(prefix)) continue;
    const [target, lun, block, dev] = p.slice(prefix.length).split('/');
    const hctl = parseHctl(lun ?? '');
    if (!hctl || !/^target\d+:\d+:\d+$/.test(target ?? '') || block !== 'block' || !dev) continue;
    out.push({ hctl, dev });
  }
  return out;
}

/** `sessionDevices` without a glob: 1 call per SCSI target and 1 per LUN of the session. */
async function walkSessionDevices(ctx: BrickContext, s: KernelSession): Promise<SessionDevice[]> {
  const out: SessionDevice[] = [];
  for (const t of await sessionTargets(ctx, s)) {
    for (const e of await listIfPresent(ctx, t.dir)) {
      const hctl = parseHctl(e);
      if (!hctl) continue;
      for (const dev of await listIfPresent(ctx, `${t.dir}/${e}/block`)) out.push({ hctl, dev });
    }
  }
  return out;
}
