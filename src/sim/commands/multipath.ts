/**
 * The simulated `multipath` and `multipathd` (multipath-tools 0.9.4, as the storage host guest
 * answers: src/sim/fidelity/). `multipath -ll` of tgt's LUN on two paths:
 *
 *   360000000000000000e00000000020001 dm-0 IET,VIRTUAL-DISK
 *   size=32M features='0' hwhandler='0' wp=rw
 *   |-+- policy='service-time 0' prio=1 status=active
 *   | `- 2:0:0:1 sda 8:0  active ready running
 *   `-+- policy='service-time 0' prio=1 status=enabled
 *     `- 3:0:0:1 sdb 8:16 active ready running
 *
 * (an array multipath-tools has no entry for: one path group per path, no hardware handler, a
 * constant priority). With multipathd down, its client exits 1 with no output (fixture
 * `multipathd-show-status-nodaemon.txt`); `multipath` itself still works on device-mapper.
 */
import type { ScsiDisk } from '../compute-host.ts';
import type { DmMap } from '../multipath-model.ts';
import type { CommandContext, CommandOutput } from './command.ts';
import { lines, out } from './command.ts';

/** multipath's human size: `1.0G`, `20G`, `512M`. */
export function humanSize(bytes: number): string {
  const units = ['K', 'M', 'G', 'T', 'P'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v).toString()}${units[u]}`;
}

/**
 * What multipath-tools' built-in hardware table gives a device: how paths are grouped, the
 * hardware handler and the priority of a healthy path. tgt's `IET VIRTUAL-DISK` has no entry, so
 * the defaults (measured: `failover`, `'0'`, prio 1); LIO's has ALUA and queue_if_no_path
 * (measured); other arrays keep the simulator's earlier single ALUA group (no real capture of
 * them yet).
 */
function hardware(vendor: string): { readonly grouping: 'failover' | 'multibus'; readonly hwhandler: string; readonly prio: number; readonly features: string } {
  if (vendor === 'IET') return { grouping: 'failover', hwhandler: '0', prio: 1, features: '0' };
  // LIO-ORG: ALUA, grouped by priority (its paths are all active/optimized: one group), queueing.
  if (vendor === 'LIO-ORG') return { grouping: 'multibus', hwhandler: '1 alua', prio: 50, features: '1 queue_if_no_path' };
  return { grouping: 'multibus', hwhandler: '1 alua', prio: 50, features: '0' };
}

export function devT(d: ScsiDisk): string {
  return `8:${d.index * 16}`;
}

function renderMap(ctx: CommandContext, m: DmMap, checked: boolean): string[] {
  const first = m.paths[0];
  const vendor = first ? `${first.lun.vendor},${first.lun.model}` : '##,##';
  const ro = m.paths.length > 0 && m.paths.every((p) => ctx.host.isReadOnly(p));
  const size = first ? humanSize(m.capacityBytes) : '0';
  const hw = hardware(first?.lun.vendor ?? '');
  const o = [`${m.name} dm-${m.index} ${vendor}`, `size=${size} features='${hw.features}' hwhandler='${hw.hwhandler}' wp=${ro ? 'ro' : 'rw'}`];
  if (m.paths.length === 0) return o;
  const up = (p: ScsiDisk): boolean => p.state === 'running' && ctx.host.sessionUp(p.session);
  // Each column as wide as the map's widest (`ready ` beside `faulty`: fidelity scene path-lost).
  const cells = m.paths.map((p) => {
    const state = checked ? (up(p) ? ['active', 'ready', 'running'] : ['failed', 'faulty', p.state]) : ['active', 'undef', p.state];
    return [`${p.session.hostNo}:0:0:${p.lun.lun}`, p.name, devT(p), ...state];
  });
  const widths = (cells[0] ?? []).map((_, i) => Math.max(...cells.map((c) => (c[i] ?? '').length)));
  const line = (p: ScsiDisk): string => {
    const c = cells[m.paths.indexOf(p)] ?? [];
    return c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i] ?? 0))).join(' ');
  };
  const groups = hw.grouping === 'failover' ? m.paths.map((p) => [p]) : [m.paths];
  groups.forEach((g, gi) => {
    const lastGroup = gi === groups.length - 1;
    // A group's priority is its usable paths' (a group whose paths all failed: 0).
    const prio = checked && g.some(up) ? hw.prio : 0;
    o.push(`${lastGroup ? '`' : '|'}-+- policy='service-time 0' prio=${prio} status=${gi === 0 ? 'active' : 'enabled'}`);
    g.forEach((p, i) => o.push(`${lastGroup ? ' ' : '|'} ${i === g.length - 1 ? '`-' : '|-'} ${line(p)}`));
  });
  return o;
}

/** multipathd's tables: each column as wide as its widest cell, cells left-aligned, one space between. */
function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return lines([header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' ')));
}

const MULTIPATH_USAGE = `multipath-tools v0.9.4 (12/19, 2022)
Usage:
  multipath [-v level] [-B|-d|-i|-q|-r] [-b file] [-p policy] [device]
  multipath [-v level] [-R retries] -F
  multipath [-v level] [-R retries] [-D] -f device
  multipath [-v level] [-D] -a|-w device
  multipath [-v level] [-D] -c|-C device
  multipath [-v level] [-D] -l|-L|-ll device
`;

export async function multipath(ctx: CommandContext): Promise<CommandOutput> {
  const mp = ctx.host.multipath;
  const args = ctx.args.filter((a, i) => !(a === '-v' || ctx.args[i - 1] === '-v'));
  const flag = args.find((a) => a.startsWith('-'));
  const refs = args.filter((a) => !a.startsWith('-'));
  const ref = refs[0];
  switch (flag) {
    case '-l':
    case '-ll': {
      const maps = ref === undefined ? mp.mapList() : [mp.resolve(ref)].filter((m): m is DmMap => m !== undefined);
      return out(0, lines(maps.flatMap((m) => renderMap(ctx, m, flag === '-ll'))));
    }
    case '-f': {
      if (ref === undefined) return out(1, '', MULTIPATH_USAGE);
      const m = mp.resolve(ref);
      if (m === undefined) {
        return out(1, '', `${uptime(ctx)} | libdevmapper: ioctl/libdm-iface.c(1980): device-mapper: table ioctl on ${ref}  failed: No such device or address\n${uptime(ctx)} | ${ref} is not a multipath device\n`);
      }
      // multipath's open-count check, then the remove ioctl: a map opened in between (udev's
      // probe on a change event) fails the ioctl with EBUSY (main's CI on the storage host guest).
      if (ctx.host.openCount(`dm-${m.index}`) > 0) return out(1, '', `${uptime(ctx)} | ${m.name}: map in use\n`);
      await ctx.sleep(ctx.world.latency.mapFlushMs);
      if (mp.maps.get(m.wwn) !== m) return out(0);
      if (ctx.host.openCount(`dm-${m.index}`) > 0) {
        const u = uptime(ctx);
        return out(1, '', `${u} | libdevmapper: ioctl/libdm-iface.c(1980): device-mapper: remove ioctl on ${m.name}  failed: Device or resource busy\n${u} | failed to remove multipath map ${m.name}\n`);
      }
      mp.flush(m);
      return out(0);
    }
    case '-F':
      for (const m of mp.mapList()) mp.flush(m);
      return out(0);
    case '-a': {
      if (ref === undefined) return out(1, '', MULTIPATH_USAGE);
      const wwn = ref.startsWith('/') ? ctx.host.diskList().find((d) => `/dev/${d.name}` === ref)?.lun.wwn : ref;
      if (wwn === undefined) return out(1, '', `${uptime(ctx)} | ${ref}: can't find path\n`);
      // A blacklisted WWID (map-never): exit 1 and no output, as multipath-tools 0.9.4 answers.
      if (mp.refuses(wwn)) return out(1);
      mp.addWwid(wwn);
      return out(0, `wwid '${wwn}' added\n`);
    }
    case '-r':
      return out(0);
    case '-C':
    case '-c': {
      if (ref === undefined) return out(1, '', MULTIPATH_USAGE);
      const name = ref.split('/').pop() ?? ref;
      if (flag === '-C') return mp.resolve(ref) ? out(0) : out(1);
      const disk = ctx.host.disks.get(name);
      const valid = disk !== undefined && (mp.resolve(name) !== undefined || mp.knownWwids().has(disk.lun.wwn));
      return valid ? out(0, `${ref} is a valid multipath device path\n`) : out(1, `${ref} is not a valid multipath device path\n`);
    }
    case undefined: {
      // Plain `multipath [dev]`: build maps for every (or the given) path now.
      const failed = new Set<string>();
      for (const d of ctx.host.diskList()) {
        if (!d.linked || (ref !== undefined && `/dev/${d.name}` !== ref && d.name !== ref)) continue;
        if (mp.addPath(d) === undefined) failed.add(d.lun.wwn);
      }
      if (failed.size > 0) return out(1, '', lines([...failed].map((w) => `${uptime(ctx)} | ${w}: domap (0) failure for create/reload map`)));
      return out(0);
    }
    default:
      return out(1, '', `multipath: invalid option -- '${flag.replace(/^-+/, '')}'\n${MULTIPATH_USAGE}`);
  }
}

/** multipath's message prefix: seconds since boot (here: virtual), as `840.324868 |`. */
function uptime(ctx: CommandContext): string {
  const ms = ctx.world.clock.now();
  return `${Math.floor(ms / 1000)}.${String((ms % 1000) * 1000).padStart(6, '0')}`;
}

export async function multipathd(ctx: CommandContext): Promise<CommandOutput> {
  const mp = ctx.host.multipath;
  if (!mp.running()) return out(1);
  const words = ctx.args.flatMap((a) => (a.startsWith('-k') ? a.slice(2).split(/\s+/) : [a])).filter((w) => w.length > 0);
  const verb = words.slice(0, 2).join(' ');
  const arg = words[2];
  switch (verb) {
    case 'show status': {
      const all = mp.mapList().flatMap((m) => m.paths);
      const up = all.filter((p) => p.state === 'running' && ctx.host.sessionUp(p.session)).length;
      const paths = all.length + mp.orphans().length;
      // The path checker's states, in its order (tur: a failed path is `down`).
      const states = (all.length - up > 0 ? `${'down'.padEnd(20)}${all.length - up}\n` : '') + (up > 0 ? `${'up'.padEnd(20)}${up}\n` : '');
      return out(0, `path checker states:\n${states}\npaths: ${paths}\nbusy: False\n`);
    }
    case 'show maps': {
      // An empty table is no table: the client prints multipathd's bare `ok`.
      const maps = mp.mapList();
      if (maps.length === 0) return out(0, 'ok\n');
      return out(0, table(['name', 'sysfs', 'uuid'], maps.map((m) => [m.name, `dm-${m.index}`, m.wwn])));
    }
    case 'show paths': {
      const known = mp.pathvec();
      if (known.length === 0) return out(0, 'ok\n');
      const rows = known.map(({ disk: p, prio }) => {
        const hctl = `${p.session.hostNo}:0:0:${p.lun.lun}`;
        const inMap = mp.maps.get(p.lun.wwn)?.paths.includes(p) ?? false;
        if (!inMap) return [hctl, p.name, devT(p), String(prio), 'undef', 'undef', 'unknown', 'orphan'];
        const up = p.state === 'running' && ctx.host.sessionUp(p.session);
        return [hctl, p.name, devT(p), String(hardware(p.lun.vendor).prio), up ? 'active' : 'failed', up ? 'ready' : 'faulty', p.state, 'X......... 1/20'];
      });
      return out(0, table(['hcil', 'dev', 'dev_t', 'pri', 'dm_st', 'chk_st', 'dev_st', 'next_check'], rows));
    }
    case 'add path': {
      const d = arg === undefined ? undefined : ctx.host.disks.get(arg.split('/').pop() ?? arg);
      if (d === undefined) return out(1, 'fail\n');
      const answer = await mp.cliAddPath(d);
      return out(answer === 'fail' ? 1 : 0, `${answer}\n`);
    }
    case 'del path':
    case 'remove path': {
      const d = arg === undefined ? undefined : ctx.host.disks.get(arg.split('/').pop() ?? arg);
      if (d !== undefined) mp.pathRemoved(d);
      return out(0, 'ok\n');
    }
    case 'resize map':
      return out(0, `${arg === undefined ? 'fail' : mp.resize(arg)}\n`);
    case 'reconfigure':
    case 'reload map':
      return out(0, 'ok\n');
    default:
      if (words[0] === 'reconfigure') return out(0, 'ok\n');
      return out(1, '', `multipathd: unknown command '${words.join(' ')}'\n`);
  }
}
