/**
 * Where the kernel puts an iSCSI session's SCSI devices in sysfs:
 * `/sys/class/iscsi_host/hostH/device/sessionS/targetH:C:T/H:C:T:L/block/sdX`
 * (os-brick globs the same paths). Walked with `readdir` so it works on any Host.
 */
import { parseHctl, type Hctl } from '../tools/scsi.ts';
import type { BrickContext } from '../tools/run.ts';

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
