/**
 * The command table of a simulated host: binary name → handler. A binary on the Host
 * allowlist that the simulator does not model answers like a missing program (exit 127),
 * the same as `LinuxHost` on a machine without it.
 */
import { blockdev, findmnt, lsblk, scsiId, systool } from './block-tools.ts';
import type { CommandContext, CommandHandler, CommandOutput } from './command.ts';
import { out } from './command.ts';
import { iscsiadm } from './iscsiadm.ts';
import { iscsiInq, iscsiLs, iscsiReadcapacity16 } from './libiscsi.ts';
import { multipath, multipathd } from './multipath.ts';
import { nvme } from './nvme.ts';
import { cat, ls, sleepCmd, tee } from './shell-tools.ts';

const TABLE: Readonly<Record<string, CommandHandler>> = {
  iscsiadm,
  multipath,
  multipathd,
  nvme,
  scsi_id: scsiId,
  lsblk,
  blockdev,
  systool,
  findmnt,
  cat,
  tee,
  ls,
  sleep: sleepCmd,
  'iscsi-ls': iscsiLs,
  'iscsi-inq': iscsiInq,
  'iscsi-readcapacity16': iscsiReadcapacity16,
  true: async () => out(0),
  false: async () => out(1),
  echo: async (ctx) => out(0, ctx.args.join(' ') + '\n'),
  hostname: async (ctx) => out(0, `${ctx.host.name}\n`),
};

export async function runCommand(ctx: CommandContext): Promise<CommandOutput> {
  const base = ctx.cmd.split('/').pop() ?? ctx.cmd;
  const handler = TABLE[base];
  if (handler === undefined) return out(127, '', `${ctx.cmd}: command not found\n`);
  return handler(ctx);
}
