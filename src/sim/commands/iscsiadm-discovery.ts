/**
 * SendTargets discovery (`iscsiadm -m discovery -t sendtargets -p IP:PORT`, and
 * `-m discoverydb … --discover`) and the discovery database (`-m discoverydb -o new|show|delete`).
 * Discovery answers `192.168.1.60:3260,5 iqn…` per portal of each target this initiator may
 * see (tgt: only the portal asked), and records them as nodes, as iscsiadm does.
 */
import { setting } from '../iscsi-node-db.ts';
import { deadPortalLoginMs } from '../latency.ts';
import { parsePortal, portalKey } from '../network.ts';
import type { CommandContext, CommandOutput } from './command.ts';
import { lines, out } from './command.ts';

/**
 * Connection refused: iscsiadm connects once and reopens 5 times (`discovery.sendtargets.reopen_max`),
 * then gives up with "iSCSI PDU timed out" (exit 11) — open-iscsi 2.1.8 on a port nobody listens on.
 */
function refused(ip: string): CommandOutput {
  const line = `iscsiadm: cannot make connection to ${ip}: Connection refused\n`;
  return out(11, '', `${line.repeat(6)}iscsiadm: connection login retries (reopen_max) 5 exceeded\niscsiadm: Could not perform SendTargets discovery: iSCSI PDU timed out\n`);
}

export async function discover(ctx: CommandContext, portal: string): Promise<CommandOutput> {
  const { world, host } = ctx;
  const state = world.network.get(portal);
  const { ip } = parsePortal(portal);
  host.discoveryDb.add(portal);
  if (state.kind === 'refusing') {
    await ctx.sleep(6 * world.latency.refusedRetryMs);
    return refused(ip);
  }
  if (state.kind === 'dead' || !world.portalServed(portal)) {
    await ctx.sleep(state.loginTimeoutMs ?? deadPortalLoginMs(world.latency));
    return out(4, '', `iscsiadm: cannot make connection to ${ip}: Connection timed out\niscsiadm: connection login retries (reopen_max) 5 exceeded\niscsiadm: Could not perform SendTargets discovery: encountered connection failure\n`);
  }
  await ctx.sleep(world.latency.discoveryRttMs + 2 * state.latencyMs);
  const found = world.targetsAt(portal).filter((t) => t.target.acls.has(host.initiator));
  const o: string[] = [];
  const { port } = parsePortal(portal);
  for (const { array, target } of found) {
    // tgt answers with the portal it was asked on; LIO and other arrays with every portal of the target.
    const portals = array.kind === 'tgt' ? [portalKey(portal)] : target.portals;
    for (const tp of portals) {
      o.push(`${tp},${target.tpgt} ${target.iqn}`);
      // Discovery writes the record afresh from iscsid.conf (startup, scan: what it says), over
      // whatever record of that portal was there — a TPGT-less one included (measured: a record
      // file brick wrote is replaced by `<ip>,<port>,<tpgt>/default`).
      for (const prev of host.nodes.find(target.iqn, tp)) if (prev.iface === 'default') host.nodes.delete(prev);
      host.nodes.add(target.iqn, tp, target.tpgt, 'default', [
        ['node.discovery_address', ip],
        ['node.discovery_port', String(port)],
        ['node.discovery_type', 'send_targets'],
      ]);
    }
  }
  if (o.length === 0) return out(21, '', 'iscsiadm: No portals found\n');
  return out(0, lines(o));
}

export async function discoveryDb(
  ctx: CommandContext,
  op: string | undefined,
  portal: string | undefined,
  _print: string | undefined,
  _name: string | undefined,
  _value: string | undefined,
): Promise<CommandOutput> {
  const { host } = ctx;
  await ctx.sleep(0);
  switch (op) {
    case 'new': {
      if (portal === undefined) return out(7, '', 'iscsiadm: discoverydb --op new requires --portal\n');
      host.discoveryDb.add(portal);
      const { ip, port } = parsePortal(portal);
      return out(0, `New discovery record for [${ip},${port}] added.\n`);
    }
    case 'delete': {
      if (portal === undefined || !host.discoveryDb.delete(portal)) return out(21, '', 'iscsiadm: Discovery record not found.\n');
      return out(0);
    }
    case 'update':
      if (portal === undefined || !host.discoveryDb.has(portal)) return out(21, '', 'iscsiadm: Discovery record not found.\n');
      return out(0);
    case undefined:
    case 'show':
      return out(0, renderDiscoveryDb(ctx));
    default:
      return out(7, '', `iscsiadm: Invalid operation '${op}'\n`);
  }
}

/**
 * `iscsiadm -m discoverydb -o show -P 1`. Records print newest first, as open-iscsi's
 * directory walk does in the fixture; discovered nodes nest under their discovery address,
 * static ones under STATIC.
 */
function renderDiscoveryDb(ctx: CommandContext): string {
  const { host } = ctx;
  const o: string[] = ['SENDTARGETS:'];
  const addrs = [...host.discoveryDb].reverse();
  const recs = host.nodes.list().reverse();
  const targetBlock = (rs: typeof recs): void => {
    const byTarget = new Map<string, typeof recs>();
    for (const r of rs) byTarget.set(r.target, [...(byTarget.get(r.target) ?? []), r]);
    for (const [t, list] of byTarget) {
      o.push(`Target: ${t}`);
      for (const r of list) o.push(`\tPortal: ${r.portal},${r.tpgt}`, `\t\tIface Name: ${r.iface}`);
    }
  };
  if (addrs.length === 0) o.push('No targets found.');
  for (const a of addrs) {
    const { ip, port } = parsePortal(a);
    o.push(`DiscoveryAddress: ${ip},${port}`);
    targetBlock(recs.filter((r) => setting(r, 'node.discovery_type') === 'send_targets' && setting(r, 'node.discovery_address') === ip && setting(r, 'node.discovery_port') === String(port)));
  }
  o.push('iSNS:', 'No targets found.', 'STATIC:');
  const statics = recs.filter((r) => setting(r, 'node.discovery_type') === 'static');
  if (statics.length === 0) o.push('No targets found.');
  targetBlock(statics);
  o.push('FIRMWARE:', 'No targets found.');
  return lines(o);
}
