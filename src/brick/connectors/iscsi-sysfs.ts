/**
 * What the kernel says about iSCSI sessions, read from sysfs instead of asking iscsiadm (which
 * reads the same files, in a process that costs more than the whole lookup):
 *
 *   /sys/class/iscsi_session/session1/targetname              iqn.2010-10.org.openstack:volume-0001
 *   /sys/class/iscsi_connection/connection1:0/persistent_address   192.0.2.10   (persistent_port 3260)
 *   /sys/class/iscsi_session/session1 -> ../../devices/platform/host2/session1/iscsi_session/session1
 *   /sys/class/iscsi_host/host2/device/session1/target2:0:0/2:0:0:1/block/sdb
 *
 * The persistent address is the portal the session was logged in to (`iscsiadm -m session`
 * prints it too); `address` can differ after a target redirect. Walked with `readdir`, so it
 * works on any Host.
 */
import type { IscsiTarget } from '../connection-info.ts';
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
  /** Its SCSI host number (from the session's device path), null if sysfs does not say. */
  readonly hostNo: number | null;
}

/** An attribute's value, or null when it is gone (a session can end while we read it). */
async function attr(ctx: BrickContext, path: string): Promise<string | null> {
  try {
    return (await ctx.host.readFile(path)).trim();
  } catch {
    return null;
  }
}

/** `H` of `/sys/devices/platform/hostH/sessionS/iscsi_session/sessionS`. */
async function hostOf(ctx: BrickContext, sid: number): Promise<number | null> {
  try {
    const m = /\/host(\d+)\/session\d+\//.exec(await ctx.host.realpath(`${SESSIONS}/session${sid}`));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The session (if any) logged in to target `t` at its portal: `iscsiadm -m session` without a process. */
export async function findSession(ctx: BrickContext, t: Pick<IscsiTarget, 'portal' | 'iqn'>): Promise<KernelSession | null> {
  if (!(await ctx.host.exists(SESSIONS))) return null;
  const want = recordAddress(t.portal);
  for (const entry of await ctx.host.readdir(SESSIONS)) {
    const m = /^session(\d+)$/.exec(entry);
    if (!m) continue;
    const sid = Number(m[1]);
    if ((await attr(ctx, `${SESSIONS}/${entry}/targetname`)) !== t.iqn) continue;
    const conn = `${CONNECTIONS}/connection${sid}:0`;
    const address = (await attr(ctx, `${conn}/persistent_address`)) ?? (await attr(ctx, `${conn}/address`));
    const port = (await attr(ctx, `${conn}/persistent_port`)) ?? (await attr(ctx, `${conn}/port`));
    if (address === null || port === null) continue;
    if (address.toLowerCase() !== want.address.toLowerCase() || port !== want.port) continue;
    return { sid, iqn: t.iqn, address, port, hostNo: await hostOf(ctx, sid) };
  }
  return null;
}

export interface SessionTarget {
  readonly host: number;
  readonly channel: number;
  readonly target: number;
  /** `/sys/class/iscsi_host/hostH/device/sessionS/targetH:C:T` */
  readonly dir: string;
}

export interface SessionDevice {
  readonly hctl: Hctl;
  /** Kernel name, e.g. `sdb`. */
  readonly dev: string;
}

/** The SCSI target(s) the kernel created for session `sid`. */
export async function sessionTargets(ctx: BrickContext, sid: number): Promise<SessionTarget[]> {
  const root = '/sys/class/iscsi_host';
  if (!(await ctx.host.exists(root))) return [];
  const out: SessionTarget[] = [];
  for (const h of await ctx.host.readdir(root)) {
    const base = `${root}/${h}/device/session${sid}`;
    if (!(await ctx.host.exists(base))) continue;
    for (const e of await ctx.host.readdir(base)) {
      const m = /^target(\d+):(\d+):(\d+)$/.exec(e);
      if (m) out.push({ host: Number(m[1]), channel: Number(m[2]), target: Number(m[3]), dir: `${base}/${e}` });
    }
  }
  return out;
}

/** Every SCSI disk of session `sid`, with its H:C:T:L. */
export async function sessionDevices(ctx: BrickContext, sid: number): Promise<SessionDevice[]> {
  const out: SessionDevice[] = [];
  for (const t of await sessionTargets(ctx, sid)) {
    for (const e of await ctx.host.readdir(t.dir)) {
      const hctl = parseHctl(e);
      if (!hctl) continue;
      const blockDir = `${t.dir}/${e}/block`;
      if (!(await ctx.host.exists(blockDir))) continue;
      for (const dev of await ctx.host.readdir(blockDir)) out.push({ hctl, dev });
    }
  }
  return out;
}
