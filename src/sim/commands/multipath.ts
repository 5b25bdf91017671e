/**
 * The simulated `multipath` and `multipathd` (multipath-tools 0.9.4). `multipath -ll`:
 *
 *   36006016074e03a008d3cf25b04e2daae dm-0 DGC,VRAID
 *   size=1.0G features='0' hwhandler='1 alua' wp=rw
 *   `-+- policy='service-time 0' prio=50 status=active
 *     |- 3:0:0:192 sdb 8:16 active ready running
 *     `- 4:0:0:192 sdc 8:32 active ready running
 *
 * With multipathd down, its client exits 1 with no output (fixture
 * `multipathd-show-status-nodaemon.txt`); `multipath` itself still works on device-mapper.
 */
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

function renderMap(ctx: CommandContext, m: DmMap, checked: boolean): string[] {
  const first = m.paths[0];
  const vendor = first ? `${first.lun.vendor},${first.lun.model}` : '##,##';
  const ro = m.paths.length > 0 && m.paths.every((p) => ctx.host.isReadOnly(p));
  const size = first ? humanSize(first.lun.sizeBytes) : '0';
  const o = [`${m.name} dm-${m.index} ${vendor}`, `size=${size} features='0' hwhandler='1 alua' wp=${ro ? 'ro' : 'rw'}`];
  if (m.paths.length === 0) return o;
  o.push(`\`-+- policy='service-time 0' prio=${checked ? 50 : 0} status=active`);
  m.paths.forEach((p, i) => {
    const branch = i === m.paths.length - 1 ? '`-' : '|-';
    const up = p.state === 'running' && ctx.host.sessionUp(p.session);
    const state = checked ? (up ? 'active ready running' : `failed faulty ${p.state}`) : `active undef ${p.state}`;
    o.push(`  ${branch} ${p.session.hostNo}:0:0:${p.lun.lun} ${p.name} 8:${p.index * 16} ${state}`);
  });
  return o;
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
      const m = ref === undefined ? undefined : mp.resolve(ref);
      if (m === undefined) return out(1, '', '');
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
      const paths = all.length;
      const states = (up > 0 ? `${'up'.padEnd(20)}${up}\n` : '') + (paths - up > 0 ? `${'faulty'.padEnd(20)}${paths - up}\n` : '');
      return out(0, `path checker states:\n${states}\npaths: ${paths}\nbusy: False\n`);
    }
    case 'show maps':
      return out(0, lines(['name sysfs uuid', ...mp.mapList().map((m) => `${m.name} dm-${m.index} ${m.wwn}`)]));
    case 'show paths':
      return out(
        0,
        lines(['hcil     dev dev_t pri dm_st  chk_st dev_st  next_check', ...mp.mapList().flatMap((m) => m.paths.map((p) => `${p.session.hostNo}:0:0:${p.lun.lun} ${p.name} 8:${p.index * 16} 50 active ready running XX........ 1/20`))]),
      );
    case 'add path': {
      const d = arg === undefined ? undefined : ctx.host.disks.get(arg.split('/').pop() ?? arg);
      if (d === undefined) return out(1, 'fail\n');
      // A blacklisted WWID (map-never): multipathd answers `blacklisted`, exit 0 (0.9.4).
      if (mp.refuses(d.lun.wwn)) return out(0, 'blacklisted\n');
      // multipathd's client prints "fail" when the daemon could not add the path to a map.
      if (mp.addPath(d) === undefined) return out(1, 'fail\n');
      return out(0, 'ok\n');
    }
    case 'del path':
    case 'remove path': {
      const d = arg === undefined ? undefined : ctx.host.disks.get(arg.split('/').pop() ?? arg);
      if (d !== undefined) mp.pathRemoved(d);
      return out(0, 'ok\n');
    }
    case 'reconfigure':
    case 'resize map':
    case 'reload map':
      return out(0, 'ok\n');
    default:
      if (words[0] === 'reconfigure') return out(0, 'ok\n');
      return out(1, '', `multipathd: unknown command '${words.join(' ')}'\n`);
  }
}
