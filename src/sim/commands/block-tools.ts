/**
 * Small block-device tools on the simulated host: `/lib/udev/scsi_id`, `lsblk`, `blockdev`,
 * `systool`, `findmnt`, with the text and exit codes the fixtures show, e.g.
 *
 *   $ lsblk -o NAME,RO -l -n          $ systool -c fc_host -v
 *   loop0  0                          Error opening class fc_host      [rc=1]
 */
import type { ScsiDisk } from '../compute-host.ts';
import type { CommandContext, CommandOutput } from './command.ts';
import { lines, out } from './command.ts';

/** Resolve `/dev/…` (following udev links) to a SCSI disk of this host. */
function diskAt(ctx: CommandContext, dev: string): ScsiDisk | undefined {
  const v = ctx.host.vfs;
  if (!v.exists(dev)) return undefined;
  const name = v.realpath(dev).split('/').pop() ?? '';
  return ctx.host.disks.get(name);
}

/** `scsi_id --page 0x83 --whitelisted /dev/sdb` → `36006016074e03a008d3cf25b04e2daae`. */
export async function scsiId(ctx: CommandContext): Promise<CommandOutput> {
  const args = ctx.args;
  let dev: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--page' || a === '-p' || a === '-d' || a === '--device') {
      if (a === '-d' || a === '--device') dev = args[i + 1];
      i++;
    } else if (a.startsWith('--device=')) dev = a.slice('--device='.length);
    else if (a.startsWith('--page=') || a === '--whitelisted' || a === '-g' || a === '-u' || a === '--replace-whitespace') continue;
    else if (a.startsWith('-')) return out(1, '', `${ctx.cmd}: unrecognized option '${a}'\n`);
    else dev = a;
  }
  const d = dev === undefined ? undefined : diskAt(ctx, dev);
  if (d === undefined) return out(1);
  const f = ctx.world.faults.hit('scsi-id-failure', { now: ctx.world.clock.now(), host: ctx.host.name, wwn: d.lun.wwn });
  if (f) return out(1);
  return out(0, `${d.lun.wwn}\n`);
}

interface BlockRow {
  readonly name: string;
  readonly ro: boolean;
  readonly sizeBytes: number;
  readonly type: string;
}

function blockRows(ctx: CommandContext): BlockRow[] {
  const h = ctx.host;
  const rows: BlockRow[] = h.config.localDisks.map((d) => ({ name: d.name, ro: d.ro ?? false, sizeBytes: d.sizeBytes ?? 0, type: d.name.startsWith('loop') ? 'loop' : 'disk' }));
  for (const d of h.diskList()) {
    rows.push({ name: d.name, ro: h.isReadOnly(d), sizeBytes: d.capacityBytes, type: 'disk' });
    const m = h.multipath.mapList().find((x) => x.paths.includes(d));
    if (m) rows.push({ name: m.name, ro: m.paths.every((p) => h.isReadOnly(p)), sizeBytes: m.capacityBytes, type: 'mpath' });
  }
  return rows;
}

function lsblkSize(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)}${units[u]}`;
}

/** `lsblk -o NAME,RO -l -n`: NAME left-aligned to its widest value, RO right-aligned. */
export async function lsblk(ctx: CommandContext): Promise<CommandOutput> {
  let columns = ['NAME', 'MAJ:MIN', 'RM', 'SIZE', 'RO', 'TYPE', 'MOUNTPOINTS'];
  let header = true;
  const devs: string[] = [];
  const args = ctx.args;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '-o' || a === '--output') {
      columns = (args[++i] ?? '').split(',').map((c) => c.toUpperCase());
    } else if (a.startsWith('--output=')) columns = a.slice(9).split(',').map((c) => c.toUpperCase());
    else if (a === '-n' || a === '--noheadings') header = false;
    else if (a === '-l' || a === '--list' || a === '-d' || a === '--nodeps' || a === '-p') continue;
    else if (a.startsWith('-')) return out(1, '', `lsblk: unrecognized option '${a}'\nTry 'lsblk --help' for more information.\n`);
    else devs.push(a);
  }
  const known = ['NAME', 'KNAME', 'RO', 'SIZE', 'TYPE', 'MAJ:MIN', 'RM', 'MOUNTPOINTS'];
  const bad = columns.find((c) => !known.includes(c));
  if (bad !== undefined) return out(1, '', `lsblk: unknown column: ${bad}\n`);
  let rows = blockRows(ctx);
  if (devs.length > 0) {
    const names: Array<string | undefined> = [];
    for (const d of devs) {
      if (!ctx.host.vfs.exists(d)) return out(32, '', `lsblk: ${d}: not a block device\n`);
      names.push(ctx.host.vfs.realpath(d).split('/').pop());
    }
    rows = rows.filter((r) => names.includes(r.name) || names.includes(`dm-${ctx.host.multipath.resolve(r.name)?.index}`));
  }
  const cell = (r: BlockRow, c: string): string =>
    c === 'NAME' || c === 'KNAME' ? r.name : c === 'RO' ? (r.ro ? '1' : '0') : c === 'SIZE' ? lsblkSize(r.sizeBytes) : c === 'TYPE' ? r.type : c === 'RM' ? '0' : c === 'MAJ:MIN' ? '8:0' : '';
  const table = rows.map((r) => columns.map((c) => cell(r, c)));
  const rightAligned = new Set(['RO', 'SIZE', 'RM', 'MAJ:MIN']);
  const widths = columns.map((c, i) => Math.max(c.length, ...table.map((row) => (row[i] ?? '').length)));
  const fmt = (row: string[]): string =>
    row
      .map((v, i) => {
        const w = widths[i] ?? 0;
        const c = columns[i] ?? '';
        if (rightAligned.has(c)) return v.padStart(w);
        return i === row.length - 1 ? v : v.padEnd(w);
      })
      .join(' ');
  return out(0, lines([...(header ? [fmt(columns)] : []), ...table.map(fmt)]));
}

/** `blockdev --getro|--getsize64|--getss|--flushbufs|--rereadpt DEV`. */
export async function blockdev(ctx: CommandContext): Promise<CommandOutput> {
  const [op, dev] = ctx.args;
  const ops = ['--getro', '--getsize64', '--getss', '--getsz', '--flushbufs', '--rereadpt', '--setro', '--setrw'];
  if (op === undefined || !ops.includes(op)) return out(1, '', `blockdev: Unknown command: ${op ?? ''}\nUsage:\n  blockdev -V\n  blockdev --report [devices]\n  blockdev [-v|-q] commands devices\n`);
  if (dev === undefined) return out(1, '', 'blockdev: no device specified\n');
  const v = ctx.host.vfs;
  if (!v.exists(dev)) return out(1, '', `blockdev: cannot open ${dev}: No such file or directory\n`);
  const name = v.realpath(dev).split('/').pop() ?? '';
  const disk = ctx.host.disks.get(name);
  const map = ctx.host.multipath.mapByDm(name);
  const local = ctx.host.config.localDisks.find((d) => d.name === name);
  const size = disk?.capacityBytes ?? map?.capacityBytes ?? local?.sizeBytes ?? 0;
  const ro = disk ? ctx.host.isReadOnly(disk) : map ? map.paths.length > 0 && map.paths.every((p) => ctx.host.isReadOnly(p)) : (local?.ro ?? false);
  switch (op) {
    case '--getro':
      return out(0, ro ? '1\n' : '0\n');
    case '--getsize64':
      return out(0, `${size}\n`);
    case '--getsz':
      return out(0, `${Math.floor(size / 512)}\n`);
    case '--getss':
      return out(0, '512\n');
    default:
      return out(0);
  }
}

/** `systool -c fc_host -v`: the FC HBAs, or `Error opening class fc_host` when there are none. */
export async function systool(ctx: CommandContext): Promise<CommandOutput> {
  const i = ctx.args.indexOf('-c');
  const cls = i >= 0 ? ctx.args[i + 1] : undefined;
  if (cls === undefined) return out(1, '', 'Usage: systool [<options> [device]]\n');
  const v = ctx.host.vfs;
  const dir = `/sys/class/${cls}`;
  const devices = v.exists(dir) ? v.readdir(dir) : [];
  if (devices.length === 0) return out(1, `Error opening class ${cls}\n`);
  const o = [`Class = "${cls}"`, ''];
  for (const d of devices) {
    const path = v.realpath(`${dir}/${d}`);
    o.push(`  Class Device = "${d}"`, `  Class Device path = "${path}"`);
    for (const attr of v.readdir(path)) {
      const n = v.lookup(`${path}/${attr}`);
      if (n?.kind !== 'file') continue;
      o.push(`    ${attr.padEnd(20)}= "${v.read(`${path}/${attr}`).trim()}"`);
    }
    o.push('');
  }
  return out(0, lines(o));
}

/** `findmnt / -n -o SOURCE` → `/dev/vda`. */
export async function findmnt(ctx: CommandContext): Promise<CommandOutput> {
  let cols = ['TARGET', 'SOURCE', 'FSTYPE', 'OPTIONS'];
  let header = true;
  let target: string | undefined;
  for (let i = 0; i < ctx.args.length; i++) {
    const a = ctx.args[i] ?? '';
    if (a === '-o' || a === '--output') cols = (ctx.args[++i] ?? '').split(',').map((c) => c.toUpperCase());
    else if (a === '-n' || a === '--noheadings') header = false;
    else if (a.startsWith('-')) continue;
    else target = a;
  }
  const mounts = Object.entries(ctx.host.config.mounts).filter(([mp, src]) => target === undefined || mp === target || src === target);
  if (mounts.length === 0) return out(1);
  const row = ([mp, src]: [string, string]): string => cols.map((c) => (c === 'TARGET' ? mp : c === 'SOURCE' ? src : c === 'FSTYPE' ? 'ext4' : 'rw')).join(' ');
  return out(0, lines([...(header ? [cols.join(' ')] : []), ...mounts.map(row)]));
}
