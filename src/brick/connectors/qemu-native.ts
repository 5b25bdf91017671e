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
 * authentication still proves the portal is reachable. The CHAP password goes to the hypervisor
 * as a secret named per instance and volume (`chapSecretUsage`), which the disk refers to.
 */
import { HitchError } from '../../errors.ts';
import type { IscsiConnectionData, IscsiConnectionInfo, NetworkDeviceInfo } from '../../ports/attach.ts';
import type { Host } from '../../ports/host.ts';
import type { AttachedVolume, HostExtendOutcome, ReapOutcome } from '../../ports/host-connector.ts';
import type { IscsiNetworkDiskSource } from '../../ports/hypervisor.ts';
import type { Span } from '../../ports/span.ts';
import { iscsiVolume, type IscsiTarget, type IscsiVolume } from '../connection-info.ts';
import type { ConnectContext, ConnectorDeps, ProtocolConnector } from '../connector.ts';
import { emitLog, type BrickLogger } from '../log.ts';
import { parseIscsiLs } from '../parsers/iscsi-ls.ts';
import { run, type BrickContext } from '../tools/run.ts';

export interface QemuNativeOptions {
  readonly host: Host;
  /** This host's initiator IQN (what the array's ACL expects). */
  readonly initiator: string;
  /** The instance the disk is for: the CHAP secret is named after it and the volume. */
  readonly instance: string;
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

/**
 * The usage of the hypervisor secret that holds a volume's CHAP password on one instance:
 * per instance, so detaching a multiattach volume from one server leaves the other's secret.
 * Whatever the attach mode: an attachment made in QEMU-native mode is detached after a restart
 * in kernel mode too.
 */
export function chapSecretUsage(data: IscsiConnectionData, instance: string): string | null {
  const ci = iscsiVolume(data);
  return ci.auth ? `hitch-${instance}-${ci.volumeId ?? ci.targets[0]?.iqn ?? ''}` : null;
}

/** The network disk for `ci` through the first portal that answers (see the note at the top). */
export async function connectQemuNative(span: Span, ci: IscsiVolume, opts: QemuNativeOptions): Promise<{ source: IscsiNetworkDiskSource; deviceInfo: NetworkDeviceInfo }> {
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
    const portal = splitPortal(chosen.portal);
    const source: IscsiNetworkDiskSource = {
      kind: 'iscsi',
      iqn: chosen.iqn,
      lun: chosen.lun,
      host: portal,
      ...(ci.auth ? { auth: { username: ci.auth.username, secretUsage: `hitch-${opts.instance}-${ci.volumeId ?? chosen.iqn}` } } : {}),
      ...(opts.initiator ? { initiatorIqn: opts.initiator } : {}),
    };
    const deviceInfo: NetworkDeviceInfo = { type: 'network', name: `${chosen.iqn}/${chosen.lun}`, hosts: `${portal.name}:${portal.port}` };
    emitLog(s, opts.logger, 'info', `connect_volume: return (${opts.host.clock.now() - t0}ms) ${JSON.stringify(deviceInfo)}`);
    s.set({ portal: chosen.portal });
    return { source, deviceInfo };
  });
}

/** QEMU-native iSCSI as a protocol connector: nothing on the host to disconnect or reap. */
export class QemuNativeIscsiConnector implements ProtocolConnector<IscsiConnectionInfo> {
  readonly #deps: ConnectorDeps;

  constructor(deps: ConnectorDeps) {
    this.#deps = deps;
  }

  async connect(info: IscsiConnectionInfo, span: Span, ctx: ConnectContext): Promise<AttachedVolume> {
    const ci = iscsiVolume(info.data);
    const { logger } = this.#deps;
    const props = await this.#deps.props(span);
    const { source, deviceInfo } = await connectQemuNative(span, ci, {
      host: this.#deps.host,
      initiator: props.initiator ?? '',
      instance: ctx.instance,
      ...(logger ? { logger } : {}),
    });
    const usage = source.auth?.secretUsage;
    return { source, deviceInfo, ...(ci.auth && usage ? { secret: { usage, value: ci.auth.password } } : {}) };
  }

  /** The disk was QEMU's; the hypervisor's unplug ended its session. */
  async disconnect(info: IscsiConnectionInfo): Promise<void> {
    iscsiVolume(info.data);
  }

  /** Nothing on the host to rescan: QEMU's own session reads the new size when libvirt grows the disk. */
  async extend(info: IscsiConnectionInfo, span: Span): Promise<HostExtendOutcome> {
    iscsiVolume(info.data);
    span.event('extend_volume', { mode: 'qemu-native', host_side: 'nothing to rescan' });
    return { sizeBytes: null };
  }

  async reap(): Promise<ReapOutcome> {
    return { reaped: [], failures: [], pending: [] };
  }

  async settled(): Promise<void> {}
}
