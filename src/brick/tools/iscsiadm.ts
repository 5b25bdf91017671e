/**
 * Thin wrapper over `iscsiadm` (open-iscsi 2.1). Each call declares the exit codes it accepts,
 * as os-brick does: 21 = no records / no sessions, 15 = session already exists, 6 = record
 * already exists, 8 = login timed out, 24 = login refused (authentication). Sessions are
 * looked up in sysfs (`connectors/iscsi-sysfs.ts`), not with `iscsiadm -m session`.
 */
import { HitchError, isHitchError } from '../../errors.ts';
import type { IscsiTarget } from '../connection-info.ts';
import { commandLine, run, type BrickContext, type RunOptions } from './run.ts';
import type { ExecResult } from '../../ports/host.ts';
import { emitLog, maskSecrets } from '../log.ts';

export const ISCSIADM_TIMEOUT_MS = 30_000;
/** iscsid gives up a login after `node.conn[0].timeo.login_timeout` × retries (≈120 s by default). */
export const ISCSI_LOGIN_TIMEOUT_MS = 150_000;

function nodeArgs(t: Pick<IscsiTarget, 'portal' | 'iqn'>): string[] {
  return ['-m', 'node', '-T', t.iqn, '-p', t.portal];
}

/**
 * iscsiadm (open-iscsi 2.1.8) walks every node record for any `-m node` operation, and fails the
 * whole operation when a record disappears under it — another iscsiadm deleting or replacing one
 * at that moment: "iface iter could not stat /etc/iscsi/nodes/…", "encountered iSCSI database
 * failure", exit 6 — even after its own work succeeded (a login reported "successful"). Seen on
 * a real host with ten volumes attaching at once. Such a failure is retried (a login then
 * answers 15, "session exists"); os-brick avoids it with one host-wide lock around every connect.
 */
const DB_RACE = /iface iter could not stat|encountered iSCSI database failure/;
const DB_RACE_RETRIES = 4;

async function nodeOp(ctx: BrickContext, args: readonly string[], opts: RunOptions): Promise<ExecResult> {
  const ok = opts.okCodes ?? [0];
  for (let attempt = 1; ; attempt++) {
    const r = await run(ctx, 'iscsiadm', args, { ...opts, okCodes: 'any' });
    if (ok === 'any' || ok.includes(r.code)) return r;
    if (attempt < DB_RACE_RETRIES && DB_RACE.test(r.stderr)) {
      emitLog(ctx.span, ctx.logger, 'info', `${commandLine('iscsiadm', args, opts.secrets)}: the node database changed under it (exit ${r.code}); retrying`);
      await ctx.host.clock.sleep(100 * attempt, opts.signal ?? ctx.signal);
      continue;
    }
    const err = r.stderr.trim();
    const out = r.stdout.trim();
    throw new HitchError('HITCH_EXEC_FAILED', {
      command: commandLine('iscsiadm', args, opts.secrets),
      exitCode: r.code,
      stderr: maskSecrets(err && out ? `${err} (stdout: ${out})` : err || out, opts.secrets),
    });
  }
}

/** `iscsiadm -m node -T <iqn> -p <portal>`: does the node record exist? (exit 21 = no) */
export async function nodeRecordExists(ctx: BrickContext, t: IscsiTarget): Promise<boolean> {
  const r = await nodeOp(ctx, nodeArgs(t), { okCodes: [0, 21], timeoutMs: ISCSIADM_TIMEOUT_MS });
  return r.code === 0;
}

/** `--interface default --op new`: create the node record (6 = it appeared meanwhile). */
export async function nodeNew(ctx: BrickContext, t: IscsiTarget): Promise<void> {
  await nodeOp(ctx, [...nodeArgs(t), '--interface', 'default', '--op', 'new'], {
    okCodes: [0, 6],
    timeoutMs: ISCSIADM_TIMEOUT_MS,
  });
}

export async function nodeUpdate(
  ctx: BrickContext,
  t: IscsiTarget,
  name: string,
  value: string,
  opts: { secret?: boolean; okCodes?: readonly number[] | 'any' } = {},
): Promise<void> {
  await nodeOp(ctx, [...nodeArgs(t), '--op', 'update', '-n', name, '-v', value], {
    okCodes: opts.okCodes ?? [0],
    timeoutMs: ISCSIADM_TIMEOUT_MS,
    ...(opts.secret ? { secrets: [value] } : {}),
  });
}

/** `--op delete`; a missing record (21) is already the goal. */
export async function nodeDelete(ctx: BrickContext, t: Pick<IscsiTarget, 'portal' | 'iqn'>): Promise<void> {
  await nodeOp(ctx, [...nodeArgs(t), '--op', 'delete'], { okCodes: [0, 21], timeoutMs: ISCSIADM_TIMEOUT_MS });
}

/**
 * `--login`, once: iscsid already retries inside its own login timeout, so a second login
 * would only double the wait on a dead portal. Resolves with the exit code: 0 = logged in now,
 * 15 = a session to this portal and target was there already ("1 session requested, but 1
 * already present"; the caller looks it up).
 *
 * A timed-out login (exit 8) says how long it took on the host's clock: that is what iscsid's
 * settings (`node.conn[0].timeo.login_timeout` × `node.session.initial_login_retry_max`, 15 s × 8
 * on Debian) made of this attempt, whatever they are on this host.
 */
export async function login(ctx: BrickContext, t: IscsiTarget, signal?: AbortSignal): Promise<0 | 15> {
  const started = ctx.host.clock.now();
  try {
    const r = await nodeOp(ctx, [...nodeArgs(t), '--login'], {
      okCodes: [0, 15],
      timeoutMs: ISCSI_LOGIN_TIMEOUT_MS,
      ...(signal ? { signal } : {}),
    });
    return r.code === 15 ? 15 : 0;
  } catch (e) {
    if (!isHitchError(e, 'HITCH_EXEC_FAILED')) throw e;
    const code = e.details['exitCode'];
    const detail = String(e.details['stderr'] ?? '');
    if (code === 8) {
      const seconds = Math.round((ctx.host.clock.now() - started) / 1000);
      throw new HitchError('HITCH_ISCSI_LOGIN_TIMEOUT', { portal: t.portal, seconds }, { cause: e });
    }
    if (code === 24) throw new HitchError('HITCH_ISCSI_AUTH_FAILED', { portal: t.portal }, { cause: e });
    throw new HitchError('HITCH_ISCSI_LOGIN_FAILED', { target: `${t.iqn} at ${t.portal}`, detail }, { cause: e });
  }
}

/** `--logout`; no session (21) is already the goal. */
export async function logout(ctx: BrickContext, t: Pick<IscsiTarget, 'portal' | 'iqn'>): Promise<void> {
  await nodeOp(ctx, [...nodeArgs(t), '--logout'], { okCodes: [0, 21], timeoutMs: ISCSIADM_TIMEOUT_MS });
}

