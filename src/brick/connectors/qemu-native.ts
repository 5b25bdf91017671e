/**
 * QEMU-native iSCSI: no kernel initiator, no host block device. QEMU's own initiator (libiscsi)
 * opens the LUN, so the connector's job is only to pick a portal and describe the disk as a
 * libvirt network-disk source:
 * `<source protocol='iscsi' name='IQN/LUN'><host name='…' port='3260'/></source>`
 * plus `<auth username='…'><secret type='iscsi' usage='…'/></auth>` for CHAP.
 *
 * Portal choice: every portal is probed in parallel with libiscsi's `iscsi-ls` (a SendTargets
 * discovery by the very stack QEMU will use — `iscsiadm` needs iscsid and the kernel driver,
 * which such hosts lack, fixture `iscsiadm-discovery-no-iscsid.txt`), each under a short timeout;
 * the first portal that answers and lists the target wins and the other probes are aborted.
 * The probe carries no CHAP secret (it would sit in argv); a discovery that fails on
 * authentication still proves the portal is reachable.
 */
import type { Host } from '../../ports/host.ts';
import { HitchError } from '../../errors.ts';
import type { Span } from '../../trace/span.ts';
import { isValidated, parseIscsiConnectionInfo, type IscsiConnectionInfo, type IscsiTarget } from '../connection-info.ts';
import { emitLog, type BrickLogger } from '../log.ts';
import { parseIscsiLs } from '../parsers/iscsi-ls.ts';
import { run, type BrickContext } from '../tools/run.ts';

export interface NetworkDiskSource {
  readonly type: 'network';
  readonly protocol: 'iscsi';
  /** `IQN/LUN`, libvirt's iSCSI source name. */
  readonly name: string;
  readonly hosts: readonly { readonly name: string; readonly port: number }[];
  /** CHAP: the virt layer defines a libvirt secret of this usage holding `auth_password`. */
  readonly auth?: { readonly username: string; readonly secret: { readonly type: 'iscsi'; readonly usage: string } };
  readonly readonly: boolean;
}

export interface QemuNativeOptions {
  readonly host: Host;
  /** This host's initiator IQN (what the array's ACL expects). */
  readonly initiator: string;
  readonly probeTimeoutMs?: number;
  readonly logger?: BrickLogger;
}

export const DEFAULT_PROBE_TIMEOUT_MS = 3_000;

function splitPortal(portal: string): { name: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(portal);
  return { name: m?.[1] ?? portal, port: Number(m?.[2] ?? 3260) };
}

async function probe(ctx: BrickContext, initiator: string, t: IscsiTarget, timeoutMs: number, signal: AbortSignal): Promise<IscsiTarget> {
  return ctx.span.run('probe portal', { portal: t.portal, iqn: t.iqn }, async (span) => {
    const r = await run({ ...ctx, span }, 'iscsi-ls', ['-i', initiator, `iscsi://${t.portal}`], { okCodes: 'any', timeoutMs, signal });
    const listed = r.code === 0 && parseIscsiLs(r.stdout).some((x) => x.iqn === t.iqn);
    const authOnly = r.code !== 0 && /auth|CHAP/i.test(r.stderr);
    if (!listed && !authOnly) {
      throw new HitchError('HITCH_ISCSI_LOGIN_FAILED', { target: `${t.iqn} at ${t.portal}`, detail: r.stderr.trim() || `exit ${r.code}, target not listed` });
    }
    return t;
  });
}

/** A stable libvirt secret usage name for the volume's CHAP secret. */
export function chapSecretUsage(volumeId: string | null, iqn: string): string {
  return `hitch-iscsi-${volumeId ?? iqn}`;
}

/** Resolve the libvirt network-disk source for `connectionInfo` (validated here). */
export async function connectQemuNative(span: Span, connectionInfo: unknown | IscsiConnectionInfo, opts: QemuNativeOptions): Promise<NetworkDiskSource> {
  const ci = isValidated(connectionInfo) ? connectionInfo : parseIscsiConnectionInfo(connectionInfo);
  const timeoutMs = opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  return span.run('connect_volume qemu-native', { volume_id: ci.volumeId, portals: ci.targets.map((t) => t.portal).join(',') }, async (s) => {
    const ctx: BrickContext = { host: opts.host, span: s, ...(opts.logger ? { logger: opts.logger } : {}) };
    const abort = new AbortController();
    const t0 = opts.host.clock.now();
    let chosen: IscsiTarget;
    const probes = ci.targets.map((t) => probe(ctx, opts.initiator, t, timeoutMs, abort.signal));
    try {
      chosen = await Promise.any(probes);
    } catch (e) {
      const errors = e instanceof AggregateError ? e.errors : [e];
      // Each portal's own reason, once: not each probe's whole message with its next step again.
      const reason = (x: unknown): string =>
        x instanceof HitchError ? (typeof x.details['detail'] === 'string' ? x.details['detail'] : x.summary) : x instanceof Error ? x.message : String(x);
      const detail = errors.map((x, i) => `${ci.targets[i]?.portal ?? '?'}: ${reason(x)}`).join('; ');
      throw new HitchError('HITCH_ISCSI_LOGIN_FAILED', { target: ci.targets[0]?.iqn ?? '', detail });
    } finally {
      // Stop the losers and let them finish, so nothing of this call outlives it.
      abort.abort(new Error('a portal answered'));
      await Promise.allSettled(probes);
    }
    const src: NetworkDiskSource = {
      type: 'network',
      protocol: 'iscsi',
      name: `${chosen.iqn}/${chosen.lun}`,
      hosts: [splitPortal(chosen.portal)],
      ...(ci.auth ? { auth: { username: ci.auth.username, secret: { type: 'iscsi', usage: chapSecretUsage(ci.volumeId, chosen.iqn) } } } : {}),
      readonly: ci.accessMode === 'ro',
    };
    emitLog(s, opts.logger, 'info', `connect_volume: return (${opts.host.clock.now() - t0}ms) ${JSON.stringify(src)}`);
    s.set({ portal: chosen.portal });
    return src;
  });
}
