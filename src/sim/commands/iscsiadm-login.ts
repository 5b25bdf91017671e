/**
 * `iscsiadm -m node … --login` and `--logout` against the simulated network and arrays, with
 * open-iscsi's messages and exit codes:
 *
 *   Logging in to [iface: default, target: iqn…a0, portal: 192.168.1.59,3260] (multiple)
 *   iscsiadm: Could not login to [iface: default, target: iqn…a0, portal: 192.168.1.59,3260].
 *   iscsiadm: initiator reported error (8 - connection timed out)
 *   iscsiadm: Could not log into all portals
 *
 * (the seed's dead portal: exit 8 after iscsid's 8 × 15 s of retries). Logins to several
 * records run in parallel, as iscsiadm does. A record whose session exists already is not
 * logged in again (`node.session.nr_sessions` = 1): exit 15, ISCSI_ERR_SESS_EXISTS —
 *
 *   iscsiadm: default: 1 session requested, but 1 already present.
 *   iscsiadm: Could not log into all portals
 *
 * and when another login of the same record wins while this one is in flight, iscsid refuses
 * the second ("initiator reported error (15 - session exists)").
 */
import { setting, type NodeRecord } from '../iscsi-node-db.ts';
import { deadPortalLoginMs } from '../latency.ts';
import { parsePortal } from '../network.ts';
import type { CommandContext, CommandOutput } from './command.ts';
import { lines, out } from './command.ts';

/** The `[iface: default, target: …, portal: ip,port]` part of login messages. */
export function loginLabel(rec: { iface: string; target: string; portal: string }): string {
  const { ip, port } = parsePortal(rec.portal);
  return `[iface: ${rec.iface}, target: ${rec.target}, portal: ${ip},${port}]`;
}

/** The `[sid: 1, target: …, portal: ip,port]` part of logout and rescan messages. */
export function sessionLabel(s: { sid: number; target: string; portal: string }): string {
  const { ip, port } = parsePortal(s.portal);
  return `[sid: ${s.sid}, target: ${s.target}, portal: ${ip},${port}]`;
}

export const LOGIN_ERRORS: Readonly<Record<number, string>> = {
  8: 'connection timed out',
  15: 'session exists',
  19: 'encountered non-retryable iSCSI login failure',
  24: 'iSCSI login failed due to authorization failure',
};

interface LoginOutcome {
  readonly code: number;
  readonly ok: boolean;
}

async function loginOne(ctx: CommandContext, rec: NodeRecord): Promise<LoginOutcome> {
  const { world, host } = ctx;
  const portal = world.network.get(rec.portal);
  const fctx = { now: world.clock.now(), host: host.name, portal: rec.portal, target: rec.target };
  const served = world.portalServed(rec.portal);
  // An explicit state wins; a portal no array serves and nobody declared is a black hole.
  if (portal.kind === 'refusing') {
    await ctx.sleep(world.latency.loginRetries * world.latency.refusedRetryMs);
    return { code: 8, ok: false };
  }
  if (portal.kind === 'dead' || !served) {
    await ctx.sleep(portal.loginTimeoutMs ?? deadPortalLoginMs(world.latency));
    return { code: 8, ok: false };
  }
  await ctx.sleep(world.latency.loginRttMs + 2 * portal.latencyMs);
  const found = world.findTarget(rec.target, rec.portal);
  if (found === undefined || world.faults.hit('target-not-found', fctx)) return { code: 19, ok: false };
  const acl = found.target.acls.get(host.initiator);
  if (acl === undefined || world.faults.hit('login-auth-failure', fctx)) return { code: 24, ok: false };
  if (acl.chapUser !== undefined) {
    const chap =
      setting(rec, 'node.session.auth.authmethod') === 'CHAP' &&
      setting(rec, 'node.session.auth.username') === acl.chapUser &&
      setting(rec, 'node.session.auth.password') === acl.chapPassword;
    if (!chap) return { code: 24, ok: false };
  }
  // Another login for the same record may have won while this one was in flight.
  if (host.findSession(rec.target, rec.portal)) return { code: 15, ok: false };
  const user = setting(rec, 'node.session.auth.username');
  const s = host.addSession(rec.target, rec.portal, found, rec.iface, user === '<empty>' ? undefined : user);
  if (setting(rec, 'node.session.scan') !== 'manual') {
    await ctx.sleep(world.latency.lunScanMs);
    host.scan(s);
  }
  return { code: 0, ok: true };
}

/** `--login` for the matched records. */
export async function login(ctx: CommandContext, records: readonly NodeRecord[]): Promise<CommandOutput> {
  const stderr: string[] = [];
  let code = 0;
  const toLogIn: NodeRecord[] = [];
  for (const r of records) {
    if (ctx.host.findSession(r.target, r.portal)) {
      // iscsiadm counts the record's sessions in sysfs first and asks iscsid for none.
      stderr.push(`iscsiadm: ${r.iface}: 1 session requested, but 1 already present.`);
      code ||= 15;
    } else {
      toLogIn.push(r);
    }
  }
  const stdout = toLogIn.map((r) => `Logging in to ${loginLabel(r)} (multiple)`);
  const results = await Promise.all(toLogIn.map((r) => loginOne(ctx, r)));
  results.forEach((res, i) => {
    const r = toLogIn[i] as NodeRecord;
    if (res.ok) {
      stdout.push(`Login to ${loginLabel(r)} successful.`);
    } else {
      stderr.push(`iscsiadm: Could not login to ${loginLabel(r)}.`);
      stderr.push(`iscsiadm: initiator reported error (${res.code} - ${LOGIN_ERRORS[res.code] ?? 'unknown error'})`);
      code = res.code;
    }
  });
  if (code !== 0) stderr.push('iscsiadm: Could not log into all portals');
  return out(code, lines(stdout), lines(stderr));
}

/** `--logout` for the sessions of the matched records (or of every record). */
export async function logout(ctx: CommandContext, target?: string, portal?: string): Promise<CommandOutput> {
  const { host } = ctx;
  const sessions = host.sessionList().filter((s) => (target === undefined || s.target === target) && (portal === undefined || s.portal === portal));
  if (sessions.length === 0) return out(21, '', 'iscsiadm: No matching sessions found\n');
  const stdout = sessions.map((s) => `Logging out of session ${sessionLabel(s)}`);
  await ctx.sleep(ctx.world.latency.logoutRttMs);
  for (const s of sessions) {
    host.removeSession(s);
    stdout.push(`Logout of ${sessionLabel(s)} successful.`);
  }
  return out(0, lines(stdout));
}
