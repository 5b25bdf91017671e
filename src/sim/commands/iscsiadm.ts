/**
 * The simulated `iscsiadm` (open-iscsi 2.1.8, with iscsid running): modes `node`, `session`,
 * `discovery`, `discoverydb`, `iface`, with the real tool's text and exit codes — 21 for
 * "No records found" / "No active sessions.", 15 for a session that already exists, 8 / 19 /
 * 24 for login failures, 7 for bad usage.
 */
import { isKnownSetting, isValidSetting, NODE_RECORD_TEMPLATE, renderNodeAdded, renderNodeListLine, renderNodeRecord, type NodeDb, type NodeRecord } from '../iscsi-node-db.ts';
import { portalKey } from '../network.ts';
import type { CommandContext, CommandOutput } from './command.ts';
import { lines, out, parseOptions } from './command.ts';
import { discover, discoveryDb } from './iscsiadm-discovery.ts';
import { login, loginLabel, logout } from './iscsiadm-login.ts';
import { listSessions, rescanSessions } from './iscsiadm-session.ts';

const WITH_VALUE = new Set(['-m', '--mode', '-T', '--targetname', '-p', '--portal', '-I', '--interface', '-o', '--op', '-n', '--name', '-v', '--value', '-t', '--type', '-r', '--sid', '-P', '--print']);
const FLAGS = new Set(['-l', '--login', '-u', '--logout', '-R', '--rescan', '--discover', '-D', '-L', '--loginall', '-U', '--logoutall', '-s', '--stats', '-S', '--show']);

const NO_RECORDS = 'iscsiadm: No records found\n';

function usage(what: string): CommandOutput {
  return out(7, '', `iscsiadm: ${what}\nTry \`iscsiadm --help' for more information.\n`);
}

/** One value of an option given in short or long spelling. */
function opt(opts: Map<string, string[]>, short: string, long: string): string | undefined {
  return (opts.get(short) ?? opts.get(long))?.at(-1);
}

function has(opts: Map<string, string[]>, ...names: string[]): boolean {
  return names.some((n) => opts.has(n));
}

export async function iscsiadm(ctx: CommandContext): Promise<CommandOutput> {
  const p = parseOptions(ctx.args, WITH_VALUE, FLAGS);
  if (p.unknown !== undefined) return usage(`unrecognized option '${p.unknown}'`);
  if (p.missingValue !== undefined) return usage(`option '${p.missingValue}' requires an argument`);
  if (p.positional.length > 0) return usage(`extra argument '${p.positional[0]}'`);
  const mode = opt(p.opts, '-m', '--mode');
  let portal = opt(p.opts, '-p', '--portal');
  if (portal !== undefined) {
    try {
      portal = portalKey(portal);
    } catch {
      return out(7, '', `iscsiadm: cannot parse portal ${portal}\n`);
    }
  }
  const target = opt(p.opts, '-T', '--targetname');
  switch (mode) {
    case 'node':
      return nodeMode(ctx, p.opts, target, portal);
    case 'session':
      return sessionMode(ctx, p.opts);
    case 'discovery':
    case 'discoverydb':
      return discoveryMode(ctx, mode, p.opts, portal);
    case 'iface':
      return ifaceMode(p.opts);
    case undefined:
      return usage('no mode specified');
    default:
      return out(7, '', `iscsiadm: Invalid mode '${mode}'\n`);
  }
}

async function nodeMode(ctx: CommandContext, opts: Map<string, string[]>, target?: string, portal?: string): Promise<CommandOutput> {
  const { host } = ctx;
  const op = opt(opts, '-o', '--op');
  const iface = opt(opts, '-I', '--interface') ?? 'default';
  await ctx.sleep(0);
  if (has(opts, '-R', '--rescan')) {
    const sessions = host.sessionList().filter((s) => (target === undefined || s.target === target) && (portal === undefined || s.portal === portal));
    return rescanSessions(ctx, sessions);
  }
  if (op === 'new') {
    if (target === undefined || portal === undefined) return usage('--op new requires --targetname and --portal');
    const rec = host.nodes.add(target, portal, -1, iface);
    return out(0, renderNodeAdded(rec));
  }
  const records = host.nodes.find(target, portal);
  if (has(opts, '-u', '--logout', '-U', '--logoutall')) return logout(ctx, target, portal);
  if (records.length === 0) return out(21, '', NO_RECORDS);
  if (has(opts, '-l', '--login', '-L', '--loginall')) return walked(ctx, await login(ctx, records));
  switch (op) {
    case 'update':
      return walked(ctx, updateRecords(host.nodes, opts, records));
    case 'delete': {
      // open-iscsi refuses to delete a record a session still uses (a logout must come first).
      const busy = records.filter((r) => host.findSession(r.target, r.portal) !== undefined);
      for (const r of records) if (!busy.includes(r)) host.nodes.delete(r);
      if (busy.length === 0) return walked(ctx, out(0));
      const msgs = busy.map(
        (r) => `iscsiadm: This command will remove the record ${loginLabel(r)}, but a session is using it. Logout session then rerun command to remove record.`,
      );
      return out(15, '', lines([...msgs, 'iscsiadm: Could not execute operation on all records: session exists']));
    }
    case undefined:
    case 'show':
      if (target === undefined && portal === undefined && op === undefined) {
        const strays = host.nodes.strays().map((x) => `[]:${x.port || '3260'},4294967295 `);
        return out(0, lines([...strays, ...records.map(renderNodeListLine)]));
      }
      return out(0, records.map((r) => renderNodeRecord(r, has(opts, '-S', '--show'))).join(''));
    default:
      return out(7, '', `iscsiadm: Invalid operation '${op}'\n`);
  }
}

/**
 * An operation that walks every node record (login, update, delete) and met an entry that is no
 * record: it did its work, then fails — exit 6, "iSCSI database failure" (open-iscsi 2.1.8,
 * fidelity scene node-records: the login's session is there all the same).
 */
function walked(ctx: CommandContext, result: CommandOutput): CommandOutput {
  const strays = ctx.host.nodes.strays();
  if (strays.length === 0 || result.code !== 0) return result;
  const dir = (p: string): string => p.slice(0, p.lastIndexOf('/'));
  const lines_ = strays.map((x) => `iscsiadm: iface iter could not stat ${dir(x.path)}/${x.address},${x.port}.`);
  return out(6, result.stdout, lines([...lines_, 'iscsiadm: Could not execute operation on all records: encountered iSCSI database failure']));
}

/** Settings that name the record: iscsiadm looks records up by them and will not change them. */
const LOOKUP_KEYS = new Set(['node.name', 'node.tpgt', 'node.conn[0].address', 'node.conn[0].port', 'node.discovery_address', 'node.discovery_port', 'node.discovery_type']);

function updateRecords(nodes: NodeDb, opts: Map<string, string[]>, records: readonly NodeRecord[]): CommandOutput {
  const name = opt(opts, '-n', '--name');
  const value = opt(opts, '-v', '--value');
  if (name === undefined || value === undefined) return usage('--op update requires --name and --value');
  const failed = 'iscsiadm: Could not execute operation on all records: invalid parameter\n';
  if (!isKnownSetting(name)) return out(7, '', `iscsiadm: Cannot modify ${name}. Invalid param name.\n${failed}`);
  if (LOOKUP_KEYS.has(name)) return out(7, '', `iscsiadm: Cannot modify ${name}. It is used to look up the record and cannot be changed.\n${failed}`);
  if (!isValidSetting(name, value)) return out(7, '', `iscsiadm: unknown value format '${value}' for parameter name '${name}'\niscsiadm: Unknown parameter ${name}.\n${failed}`);
  for (const r of records) nodes.update(r, name, value);
  return out(0);
}

async function sessionMode(ctx: CommandContext, opts: Map<string, string[]>): Promise<CommandOutput> {
  await ctx.sleep(0);
  const sidText = opt(opts, '-r', '--sid');
  let sid: number | undefined;
  if (sidText !== undefined) {
    if (!/^\d+$/.test(sidText)) return out(7, '', `iscsiadm: invalid sid '${sidText}'\n`);
    sid = Number(sidText);
    // Session numbers start at 1 (open-iscsi 2.1.8; fidelity scene dead-login).
    if (sid === 0) return out(1, '', 'iscsiadm: 0 is an invalid session ID or path\n');
  }
  const printText = opt(opts, '-P', '--print');
  const level = printText === undefined ? undefined : Number(printText);
  if (has(opts, '-R', '--rescan')) {
    const sessions = ctx.host.sessionList().filter((s) => sid === undefined || s.sid === sid);
    if (sid !== undefined && sessions.length === 0) {
      return out(22, '', `iscsiadm: could not read session targetname: 5\niscsiadm: Could not get session info for sid ${sid}\n`);
    }
    if (sessions.length === 0) return out(21, '', 'iscsiadm: No active sessions.\n');
    return rescanSessions(ctx, sessions);
  }
  if (has(opts, '-u', '--logout')) {
    const s = ctx.host.sessionList().find((x) => x.sid === sid);
    if (s === undefined) return out(21, '', 'iscsiadm: No matching sessions found\n');
    return logout(ctx, s.target, s.portal);
  }
  return listSessions(ctx, level, sid);
}

async function discoveryMode(ctx: CommandContext, mode: 'discovery' | 'discoverydb', opts: Map<string, string[]>, portal?: string): Promise<CommandOutput> {
  const type = opt(opts, '-t', '--type');
  const op = opt(opts, '-o', '--op');
  if (mode === 'discovery' || has(opts, '-D', '--discover')) {
    if (type !== 'sendtargets' && type !== 'st') return usage(`discovery type ${type ?? '(none)'} not supported`);
    if (portal === undefined) return usage('discovery requires --portal');
    return discover(ctx, portal);
  }
  return discoveryDb(ctx, op, portal, opt(opts, '-P', '--print'), opt(opts, '-n', '--name'), opt(opts, '-v', '--value'));
}

/** `iscsiadm -m iface` (the list) and `-m iface -I NAME -o show` (one iface record). */
function ifaceMode(opts: Map<string, string[]>): CommandOutput {
  const name = opt(opts, '-I', '--interface');
  if (name === undefined) return out(0, 'default tcp,<empty>,<empty>,<empty>,<empty>\niser iser,<empty>,<empty>,<empty>,<empty>\n');
  if (name !== 'default' && name !== 'iser') return out(21, '', `iscsiadm: Could not read iface ${name}. Error 21\n`);
  const body = NODE_RECORD_TEMPLATE.filter(([k]) => k.startsWith('iface.')).map(([k, v]) => {
    if (k === 'iface.iscsi_ifacename') return `${k} = ${name}`;
    if (k === 'iface.transport_name') return `${k} = ${name === 'iser' ? 'iser' : 'tcp'}`;
    return `${k} = ${v}`;
  });
  return out(0, `# BEGIN RECORD 2.1.8\n${body.join('\n')}\n# END RECORD\n`);
}
