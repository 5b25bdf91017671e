/**
 * `iscsiadm -m node … --login` and `--logout` against the simulated network and arrays, with
 * open-iscsi's messages and exit codes:
 *
 *   Logging in to [iface: default, target: iqn…a0, portal: 192.168.1.59,3260]
 *   iscsiadm: Could not login to [iface: default, target: iqn…a0, portal: 192.168.1.59,3260].
 *   iscsiadm: initiator reported error (8 - connection timed out)
 *   iscsiadm: Could not log into all portals
 *
 * (the seed's dead portal: exit 8 after iscsid's 8 × 15 s of retries; the seed's older
 * open-iscsi printed ` (multiple)` after `Logging in to […]`, 2.1.8 does not). iscsid does the
 * logging in (`iscsid-model.ts`); logins to several records run in parallel, as iscsiadm asks
 * iscsid for all of them at once — two records of one portal (a discovered one beside one made
 * with `-o new`): the second is refused, exit 15 after the first's success. A record whose session exists already is not
 * logged in again (`node.session.nr_sessions` = 1): exit 15, ISCSI_ERR_SESS_EXISTS —
 *
 *   iscsiadm: default: 1 session requested, but 1 already present.
 *   iscsiadm: Could not log into all portals
 *
 * and when another login of the same record wins while this one is in flight, iscsid refuses
 * the second ("initiator reported error (15 - session exists)").
 */
import { HitchError } from '../../errors.ts';
import type { NodeRecord } from '../iscsi-node-db.ts';
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

/** `answer`, or HITCH_ABORTED as soon as the command is killed (the work behind `answer` goes on). */
function untilAborted<T>(ctx: CommandContext, answer: Promise<T>): Promise<T> {
  if (ctx.signal.aborted) return Promise.reject(new HitchError('HITCH_ABORTED', { reason: 'iscsiadm killed' }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new HitchError('HITCH_ABORTED', { reason: 'iscsiadm killed' }));
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    answer.then(
      (v) => {
        ctx.signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        ctx.signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
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
  const stdout = toLogIn.map((r) => `Logging in to ${loginLabel(r)}`);
  // iscsid logs in; iscsiadm waits for its answers. Killed meanwhile, iscsiadm stops waiting —
  // the logins go on in iscsid.
  const results = await Promise.all(toLogIn.map((r) => untilAborted(ctx, ctx.host.iscsid.login(r))));
  results.forEach((res, i) => {
    const r = toLogIn[i] as NodeRecord;
    if (res.code === 0) {
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
