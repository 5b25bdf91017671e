/**
 * `iscsiadm -m session` in its forms: the list (`tcp: [1] 192.168.1.60:3260,5 iqn… (non-flash)`),
 * the `-P 3` detail, and rescans (`-m session -r SID --rescan`, `-m node --rescan`):
 *
 *   Rescanning session [sid: 3, target: iqn.1992-04.com.emc:cx.apm00150602415.b0, portal: 192.168.1.60,3260]
 */
import type { SimSession } from '../compute-host.ts';
import { setting } from '../iscsi-node-db.ts';
import type { CommandContext, CommandOutput } from './command.ts';
import { lines, out } from './command.ts';
import { sessionLabel } from './iscsiadm-login.ts';

export const NO_SESSIONS = 'iscsiadm: No active sessions.\n';

export function sessionListLine(s: SimSession): string {
  return `tcp: [${s.sid}] ${s.portal},${s.tpgt} ${s.target} (non-flash)`;
}

export function listSessions(ctx: CommandContext, printLevel: number | undefined, sid?: number): CommandOutput {
  let sessions = ctx.host.sessionList();
  if (sid !== undefined) {
    sessions = sessions.filter((s) => s.sid === sid);
    if (sessions.length === 0) return out(22, '', `iscsiadm: could not read session targetname: 5\niscsiadm: Could not get session info for sid ${sid}\n`);
  }
  if (sessions.length === 0) return out(21, '', NO_SESSIONS);
  if (printLevel === undefined || printLevel < 1) return out(0, lines(sessions.map(sessionListLine)));
  return out(0, renderSessionDetail(ctx, sessions, printLevel));
}

/**
 * `iscsiadm -m session -P 1..3`, as open-iscsi 2.1.8 prints it: the transport class header only
 * at level 3, sessions grouped under their target, and a session whose connection is down —
 * its portal unreachable — as iscsid shows it while it reopens (measured: fidelity scene
 * path-lost):
 *
 *   Target: iqn.2010-10.org.openstack:volume-fidelity (non-flash)
 *   	Current Portal: 127.0.0.2:3260,1
 *   	…
 *   		Iface IPaddress: [default]
 *   		…
 *   		iSCSI Connection State: TRANSPORT WAIT
 *   		iSCSI Session State: FREE
 *   		Internal iscsid Session State: REOPEN
 */
function renderSessionDetail(ctx: CommandContext, sessions: readonly SimSession[], level: number): string {
  const { host } = ctx;
  const o: string[] = level >= 3 ? ['iSCSI Transport Class version 2.0-870', 'version 2.1.8'] : [];
  const targets = [...new Set(sessions.map((s) => s.target))];
  for (const target of targets) {
    o.push(`Target: ${target} (non-flash)`);
    for (const s of sessions.filter((x) => x.target === target)) {
      const [ip, port] = s.portal.split(':');
      const rec = host.nodes.get(s.target, s.portal, s.iface);
      const up = host.sessionUp(s);
      o.push(`\tCurrent Portal: ${ip}:${port},${s.tpgt}`);
      o.push(`\tPersistent Portal: ${ip}:${port},${s.tpgt}`);
      o.push('\t\t**********', '\t\tInterface:', '\t\t**********');
      o.push(`\t\tIface Name: ${s.iface}`, '\t\tIface Transport: tcp', `\t\tIface Initiatorname: ${host.initiator}`);
      o.push(`\t\tIface IPaddress: ${up ? host.config.ip : '[default]'}`, '\t\tIface HWaddress: default', '\t\tIface Netdev: default');
      o.push(
        `\t\tSID: ${s.sid}`,
        `\t\tiSCSI Connection State: ${up ? 'LOGGED IN' : 'TRANSPORT WAIT'}`,
        `\t\tiSCSI Session State: ${up ? 'LOGGED_IN' : 'FREE'}`,
        `\t\tInternal iscsid Session State: ${up ? 'NO CHANGE' : 'REOPEN'}`,
      );
      if (level >= 2) {
        o.push('\t\t*********', '\t\tTimeouts:', '\t\t*********');
        o.push(`\t\tRecovery Timeout: ${rec ? setting(rec, 'node.session.timeo.replacement_timeout') : '120'}`);
        o.push('\t\tTarget Reset Timeout: 30', '\t\tLUN reset Timeout: 30', '\t\tAbort Timeout: 15');
        o.push('\t\t*****', '\t\tCHAP:', '\t\t*****');
        o.push(`\t\tusername: ${s.chapUser ?? '<empty>'}`, '\t\tpassword: ********', '\t\tusername_in: <empty>', '\t\tpassword_in: ********');
        o.push('\t\t************************', '\t\tNegotiated iSCSI params:', '\t\t************************');
        o.push('\t\tHeaderDigest: None', '\t\tDataDigest: None', '\t\tMaxRecvDataSegmentLength: 262144', '\t\tMaxXmitDataSegmentLength: 262144');
        o.push('\t\tFirstBurstLength: 65536', '\t\tMaxBurstLength: 262144', '\t\tImmediateData: Yes', '\t\tInitialR2T: Yes', '\t\tMaxOutstandingR2T: 1');
      }
      if (level >= 3) {
        o.push('\t\t************************', '\t\tAttached SCSI devices:', '\t\t************************');
        o.push(`\t\tHost Number: ${s.hostNo}\tState: running`);
        for (const d of host.disksOf(s)) {
          o.push(`\t\tscsi${s.hostNo} Channel 00 Id 0 Lun: ${d.lun.lun}`);
          o.push(`\t\t\tAttached scsi disk ${d.name}\t\tState: ${d.state}`);
        }
      }
    }
  }
  return lines(o);
}

/** Rescan the given sessions for every LUN exported to this initiator. */
export async function rescanSessions(ctx: CommandContext, sessions: readonly SimSession[]): Promise<CommandOutput> {
  if (sessions.length === 0) return out(21, '', 'iscsiadm: No matching sessions found\n');
  const stdout: string[] = [];
  for (const s of sessions) {
    stdout.push(`Rescanning session ${sessionLabel(s)}`);
    await ctx.sleep(ctx.world.latency.lunScanMs);
    // open-iscsi writes each of the session's devices' `rescan` (their capacity is re-read), then scans for new LUNs.
    for (const d of ctx.host.disksOf(s)) ctx.host.rescanDisk(d);
    ctx.host.scan(s);
  }
  return out(0, lines(stdout));
}
