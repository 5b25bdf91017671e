/**
 * The coreutils that shell-based tools use on sysfs: `cat FILE…` and `tee [-a] FILE` (how
 * os-brick writes `0 0 192` to `/sys/class/scsi_host/host2/scan` and `1` to
 * `/sys/block/sdb/device/delete`), plus `echo`, `true`, `false`, `hostname`, `sleep`, `ls`.
 */
import { VfsError } from '../vfs.ts';
import type { CommandContext, CommandOutput } from './command.ts';
import { lines, out } from './command.ts';

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'No such file or directory',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  EINVAL: 'Invalid argument',
  EACCES: 'Permission denied',
  ELOOP: 'Too many levels of symbolic links',
};

export function errnoText(e: unknown): string {
  return e instanceof VfsError ? (ERRNO_TEXT[e.errno] ?? e.errno) : String(e);
}

export async function cat(ctx: CommandContext): Promise<CommandOutput> {
  let stdout = '';
  let stderr = '';
  let code = 0;
  const files = ctx.args.filter((a) => a !== '--');
  if (files.length === 0) return out(0, ctx.input);
  for (const f of files) {
    try {
      stdout += ctx.host.vfs.read(f);
    } catch (e) {
      stderr += `cat: ${f}: ${errnoText(e)}\n`;
      code = 1;
    }
  }
  return out(code, stdout, stderr);
}

export async function tee(ctx: CommandContext): Promise<CommandOutput> {
  const files = ctx.args.filter((a) => a !== '-a' && a !== '--append' && a !== '--');
  const bad = ctx.args.find((a) => a.startsWith('-') && a !== '-a' && a !== '--append' && a !== '--');
  if (bad !== undefined) return out(1, '', `tee: unrecognized option '${bad}'\nTry 'tee --help' for more information.\n`);
  let stderr = '';
  let code = 0;
  for (const f of files) {
    try {
      await ctx.host.writeSysfs(f, ctx.input, ctx.signal);
    } catch (e) {
      if (!(e instanceof VfsError)) throw e;
      stderr += `tee: ${f}: ${errnoText(e)}\n`;
      code = 1;
    }
  }
  return out(code, ctx.input, stderr);
}

export async function ls(ctx: CommandContext): Promise<CommandOutput> {
  const paths = ctx.args.filter((a) => !a.startsWith('-'));
  let stdout = '';
  let stderr = '';
  let code = 0;
  for (const p of paths.length ? paths : ['.']) {
    try {
      const n = ctx.host.vfs.lookup(p);
      stdout += n?.kind === 'dir' ? lines(ctx.host.vfs.readdir(p)) : n ? `${p}\n` : '';
      if (!n) throw new VfsError('ENOENT', p);
    } catch (e) {
      stderr += `ls: cannot access '${p}': ${errnoText(e)}\n`;
      code = 2;
    }
  }
  return out(code, stdout, stderr);
}

export async function sleepCmd(ctx: CommandContext): Promise<CommandOutput> {
  const s = Number(ctx.args[0]);
  if (!Number.isFinite(s) || s < 0) return out(1, '', `sleep: invalid time interval '${ctx.args[0] ?? ''}'\n`);
  await ctx.sleep(s * 1000);
  return out(0);
}
