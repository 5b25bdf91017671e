/**
 * nvme-cli 2.3 (libnvme 1.3, Debian 12) on a simulated host: `connect`, `disconnect`, `list`,
 * `list-subsys`, `show-hostnqn`, `version`, over the host's NVMe model (`../nvme-model.ts`).
 *
 * Texts and exit codes as recorded in the storage host guest (`../testdata/nvme/guest-record.json`):
 * a connect prints nothing and exits 0; `already connected` (exit 1) when a controller of that
 * subsystem to that address exists (live or reconnecting); a refused, timed-out or rejected
 * connect prints the kernel's errno after `Failed to write to /dev/nvme-fabrics:` and exits 1;
 * `disconnect -n` prints `NQN:<nqn> disconnected <n> controller(s)` (exit 0, also for 0);
 * `list -o json` and `list-subsys -o json` print nvme-cli's own JSON layout (two-space indent,
 * no space after the colon), namespaces newest first; a `disconnect -d` of a controller that does
 * not exist says `Did not find device <name>` and still exits 0 (recorded by the fidelity scene
 * `nvme`). Not recorded, and so nvme-cli's source as best known: usage errors (exit 22, EINVAL).
 */
import type { NvmeCtrl } from '../nvme-model.ts';
import type { CommandContext, CommandOutput } from './command.ts';
import { out, parseOptions } from './command.ts';

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** nvme-cli's JSON printer: `"key":value`, two spaces per level, empty arrays on two lines. */
export function nvmeJson(v: Json, indent = 0): string {
  const pad = (n: number): string => ' '.repeat(n);
  if (Array.isArray(v)) {
    const items = v.map((x) => `${pad(indent + 2)}${nvmeJson(x, indent + 2)}`);
    return `[\n${items.join(',\n')}${items.length > 0 ? '\n' : ''}${pad(indent)}]`;
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v).map(([k, x]) => `${pad(indent + 2)}${JSON.stringify(k)}:${nvmeJson(x, indent + 2)}`);
    return `{\n${entries.join(',\n')}\n${pad(indent)}}`;
  }
  return JSON.stringify(v);
}

const EINVAL = 22;
const usage = (sub: string, what: string): CommandOutput => out(EINVAL, '', `${what}\nUsage: nvme ${sub} <args>\n`);

const SECTOR = 4096;

function nvmeModel(ctx: CommandContext) {
  return ctx.host.nvme;
}

async function connect(ctx: CommandContext, args: readonly string[]): Promise<CommandOutput> {
  const model = nvmeModel(ctx);
  const p = parseOptions(
    args,
    new Set(['-t', '--transport', '-a', '--traddr', '-s', '--trsvcid', '-n', '--nqn', '-q', '--hostnqn', '-I', '--hostid', '-l', '--ctrl-loss-tmo', '-c', '--reconnect-delay', '-k', '--keep-alive-tmo', '-i', '--nr-io-queues']),
    new Set(['-D', '--duplicate-connect']),
  );
  if (p.unknown !== undefined) return usage('connect', `connect: unrecognized option '${p.unknown}'`);
  if (p.missingValue !== undefined) return usage('connect', `connect: option '${p.missingValue}' requires an argument`);
  const get = (...keys: string[]): string | undefined => keys.map((k) => p.opts.get(k)?.at(-1)).find((x) => x !== undefined);
  const nqn = get('-n', '--nqn');
  const transport = get('-t', '--transport');
  const traddr = get('-a', '--traddr');
  if (!nqn) return usage('connect', 'required argument [--nqn | -n] not specified');
  if (!transport) return usage('connect', 'required argument [--transport | -t] not specified');
  if (!model) return out(1, '', 'Failed to open /dev/nvme-fabrics: No such file or directory\n');
  if (transport !== 'tcp' || !traddr) return out(1, '', 'Failed to write to /dev/nvme-fabrics: Invalid argument\ncould not add new controller: invalid arguments/configuration\n');
  const port = get('-s', '--trsvcid') ?? '4420';
  const hostNqn = get('-q', '--hostnqn') ?? model.config.hostNqn;
  const num = (v: string | undefined): number | undefined => (v !== undefined && /^-?\d+$/.test(v) ? Number(v) : undefined);
  const portal = traddr.includes(':') ? `[${traddr}]:${port}` : `${traddr}:${port}`;
  const had = model.existing(nqn, portal, hostNqn);
  if (had && had.subsys !== null && !p.opts.has('-D') && !p.opts.has('--duplicate-connect')) return out(1, '', 'already connected\n');
  const ctrlLossTmoS = num(get('-l', '--ctrl-loss-tmo'));
  const reconnectDelayS = num(get('-c', '--reconnect-delay'));
  const r = await model.connect(nqn, portal, hostNqn, { ...(ctrlLossTmoS !== undefined ? { ctrlLossTmoS } : {}), ...(reconnectDelayS !== undefined ? { reconnectDelayS } : {}) }, (ms) => ctx.sleep(ms));
  return r.ok ? out(0) : out(1, '', r.stderr);
}

async function disconnect(ctx: CommandContext, args: readonly string[]): Promise<CommandOutput> {
  const model = nvmeModel(ctx);
  const p = parseOptions(args, new Set(['-n', '--nqn', '-d', '--device']), new Set(['-v', '--verbose']));
  if (p.unknown !== undefined) return usage('disconnect', `disconnect: unrecognized option '${p.unknown}'`);
  const nqn = p.opts.get('-n')?.at(-1) ?? p.opts.get('--nqn')?.at(-1);
  const device = p.opts.get('-d')?.at(-1) ?? p.opts.get('--device')?.at(-1);
  if (!nqn && !device) return usage('disconnect', 'Need a device name or NQN');
  if (!model) return nqn ? out(0, `NQN:${nqn} disconnected 0 controller(s)\n`) : out(0, '', `Did not find device ${device ?? ''}\n`);
  if (nqn) {
    const ctrls = model.ctrlList().filter((c) => c.nqn === nqn && c.subsys !== null);
    if (ctrls.length > 0) await ctx.sleep(ctx.world.latency.nvmeDisconnectMs);
    for (const c of ctrls) model.disconnect(c);
    return out(0, `NQN:${nqn} disconnected ${ctrls.length} controller(s)\n`);
  }
  const names = (device ?? '').split(',').map((d) => d.replace(/^\/dev\//, ''));
  for (const d of names) {
    const c = model.ctrlList().find((x) => x.name === d);
    if (!c) return out(0, '', `Did not find device ${d}\n`);
    await ctx.sleep(ctx.world.latency.nvmeDisconnectMs);
    model.disconnect(c);
  }
  return out(0);
}

function wantsJson(args: readonly string[]): boolean {
  const i = args.findIndex((a) => a === '-o' || a === '--output-format');
  return (i >= 0 && args[i + 1] === 'json') || args.includes('--output-format=json');
}

async function list(ctx: CommandContext, args: readonly string[]): Promise<CommandOutput> {
  const model = nvmeModel(ctx);
  if (!wantsJson(args)) return out(1, '', 'only -o json is modelled by the simulator\n');
  const devs = model ? [...model.devs.values()].filter((d) => !d.hidden) : [];
  const key = (name: string): number[] => (/^nvme(\d+)n(\d+)$/.exec(name) ?? []).slice(1).map(Number);
  devs.sort((a, b) => {
    const [x = 0, y = 0] = key(a.name);
    const [u = 0, w = 0] = key(b.name);
    return u - x || w - y;
  });
  const devices: Json[] = devs.map((d) => ({
    NameSpace: d.ns.nsid,
    DevicePath: `/dev/${d.name}`,
    Firmware: d.subsys.target.firmware,
    ModelNumber: d.subsys.target.model,
    SerialNumber: d.subsys.target.serial,
    UsedBytes: d.ns.sizeBytes,
    MaximumLBA: Math.floor(d.ns.sizeBytes / SECTOR),
    PhysicalSize: d.ns.sizeBytes,
    SectorSize: SECTOR,
  }));
  return out(0, `${nvmeJson({ Devices: devices })}\n`);
}

async function listSubsys(ctx: CommandContext, args: readonly string[]): Promise<CommandOutput> {
  const model = nvmeModel(ctx);
  if (!wantsJson(args)) return out(1, '', 'only -o json is modelled by the simulator\n');
  const dev = args.find((a, i) => a.startsWith('/dev/') && args[i - 1] !== '-o');
  let subs = model ? model.subsysList() : [];
  if (dev !== undefined) {
    const d = model?.dev(dev.replace(/^\/dev\//, ''));
    if (!d) return out(1, '', `Failed to scan topology: No such file or directory\n`);
    subs = subs.filter((s) => s === d.subsys);
  }
  if (!model || subs.length === 0) return out(0, '[\n]\n');
  const path = (c: NvmeCtrl): Json => ({
    Name: c.name,
    Transport: 'tcp',
    Address: model.address(c),
    State: c.state,
    ...(dev !== undefined ? { ANAState: c.state === 'live' ? 'optimized' : 'inaccessible' } : {}),
  });
  const body: Json = [
    {
      HostNQN: model.config.hostNqn,
      HostID: model.config.hostId,
      Subsystems: subs.map((s) => ({ Name: s.name, NQN: s.target.nqn, Paths: [...s.ctrls].sort((a, b) => a.instance - b.instance).map(path) })),
    },
  ];
  return out(0, `${nvmeJson(body)}\n`);
}

export async function nvme(ctx: CommandContext): Promise<CommandOutput> {
  const [sub, ...rest] = ctx.args;
  switch (sub) {
    case 'connect':
      return connect(ctx, rest);
    case 'disconnect':
      return disconnect(ctx, rest);
    case 'list':
      return list(ctx, rest);
    case 'list-subsys':
      return listSubsys(ctx, rest);
    case 'show-hostnqn': {
      const model = nvmeModel(ctx);
      return model ? out(0, `${model.config.hostNqn}\n`) : out(1, '', 'hostnqn is not available -- use nvme gen-hostnqn\n');
    }
    case 'version':
      return out(0, 'nvme version 2.3 (git 2.3)\nlibnvme version 1.3 (git 1.3)\n');
    default:
      return out(1, '', `ERROR: Invalid sub-command '${sub ?? ''}'\n`);
  }
}
