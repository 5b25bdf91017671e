/**
 * SCSI and block helpers: sysfs (scan, delete, wwid, holders) through the Host's file calls, and
 * the `scsi_id` / `blockdev` tools.
 */
import { HitchError } from '../../errors.ts';
import { parseBlockdevGetro } from '../parsers/blockdev.ts';
import { parseScsiId, wwnFromSysfsWwid } from '../parsers/wwid.ts';
import { listIfPresent, readIfPresent } from './files.ts';
import { run, type BrickContext } from './run.ts';

export const SCSI_TIMEOUT_MS = 30_000;

/** `H:C:T:L` of a SCSI device. */
export interface Hctl {
  readonly host: number;
  readonly channel: number;
  readonly target: number;
  readonly lun: number;
}

export function parseHctl(s: string): Hctl | null {
  const m = /^(\d+):(\d+):(\d+):(\d+)$/.exec(s);
  return m ? { host: Number(m[1]), channel: Number(m[2]), target: Number(m[3]), lun: Number(m[4]) } : null;
}

/**
 * Targeted scan of one LUN: `echo "C T L" > /sys/class/scsi_host/hostH/scan`, instead of
 * `iscsiadm --rescan`, which rescans every LUN of every session on the host. Channel and
 * target may be `-` (any): with manual scan the kernel makes no SCSI target for a session
 * until the first scan, and an iSCSI host has one session, so `- - L` finds the LUN.
 */
export async function scanLun(ctx: BrickContext, host: number, channel: number | '-', target: number | '-', lun: number): Promise<void> {
  const path = `/sys/class/scsi_host/host${host}/scan`;
  const data = `${channel} ${target} ${lun}`;
  await ctx.span.run('sysfs scan', { path, data }, () => ctx.host.writeFile(path, data));
}

/** `echo 1 > /sys/block/sdX/device/delete`: remove the SCSI device from the kernel. */
export async function deleteScsiDevice(ctx: BrickContext, dev: string): Promise<void> {
  const path = `/sys/block/${dev}/device/delete`;
  await ctx.span.run('sysfs delete', { path }, () => ctx.host.writeFile(path, '1'));
}

/** The WWN of `/dev/<dev>`: sysfs `wwid` first (no process), then `scsi_id`. */
export async function readWwn(ctx: BrickContext, dev: string): Promise<string> {
  const sysfs = await readIfPresent(ctx, `/sys/block/${dev}/device/wwid`);
  if (sysfs !== null) {
    const w = wwnFromSysfsWwid(sysfs);
    if (w) return w;
  }
  const r = await run(ctx, '/lib/udev/scsi_id', ['--page', '0x83', '--whitelisted', `/dev/${dev}`], {
    okCodes: 'any',
    timeoutMs: SCSI_TIMEOUT_MS,
  });
  const w = r.code === 0 ? parseScsiId(r.stdout) : null;
  if (!w) throw new HitchError('HITCH_WWN_NOT_FOUND', { path: `/dev/${dev}` });
  return w;
}

/** The dm devices holding `dev` (`/sys/block/sdX/holders/dm-N`). */
export async function holders(ctx: BrickContext, dev: string): Promise<string[]> {
  return (await listIfPresent(ctx, `/sys/block/${dev}/holders`)).filter((n) => n.startsWith('dm-'));
}

/** The path devices under a dm map (`/sys/block/dm-N/slaves/sdX`). */
export async function slaves(ctx: BrickContext, dm: string): Promise<string[]> {
  return listIfPresent(ctx, `/sys/block/${dm}/slaves`);
}

/** The map name of `dm-N` (`/sys/block/dm-N/dm/name`), the WWN for multipath maps. */
export async function dmName(ctx: BrickContext, dm: string): Promise<string | null> {
  return (await readIfPresent(ctx, `/sys/block/${dm}/dm/name`))?.trim() ?? null;
}

/**
 * Whether `/dev/X` is read-only: `/sys/block/X/ro` (`0` or `1`, what `blockdev --getro` asks
 * the kernel for), or `blockdev --getro` when sysfs does not have it.
 */
export async function isReadOnly(ctx: BrickContext, devPath: string): Promise<boolean> {
  const name = devPath.split('/').pop() ?? '';
  const v = /^[A-Za-z0-9_-]+$/.test(name) ? (await readIfPresent(ctx, `/sys/block/${name}/ro`))?.trim() : undefined;
  if (v === '0' || v === '1') return v === '1';
  const r = await run(ctx, 'blockdev', ['--getro', devPath], { timeoutMs: SCSI_TIMEOUT_MS });
  return parseBlockdevGetro(r.stdout) === true;
}

/** `blockdev --flushbufs /dev/X`: write out buffered data before the device goes. */
export async function flushBuffers(ctx: BrickContext, devPath: string): Promise<void> {
  await run(ctx, 'blockdev', ['--flushbufs', devPath], { timeoutMs: SCSI_TIMEOUT_MS });
}
