/**
 * iSCSI through the host's kernel initiator, as a protocol connector: `IscsiConnector`
 * (`iscsi.ts`) logs in and finds the device; this picks the stable name the hypervisor gets —
 * `/dev/disk/by-id/dm-uuid-mpath-<WWID>` for a multipath map, the `by-path` link of the live path
 * otherwise, as the seed's XML shows it (a `/dev/sdX` name can change across rescans, the links
 * cannot) — and turns connection infos into the targets the reaper works on.
 */
import type { BlockDeviceInfo, IscsiConnectionInfo } from '../../ports/attach.ts';
import type { AttachedVolume, HostExtendOutcome, ReapOutcome } from '../../ports/host-connector.ts';
import type { Span } from '../../ports/span.ts';
import { byPathLink, iscsiVolume, type IscsiVolume } from '../connection-info.ts';
import type { ConnectorDeps, ProtocolConnector } from '../connector.ts';
import { devicePath } from '../device-info.ts';
import { extendIscsiVolume } from './iscsi-extend.ts';
import { IscsiConnector, type TargetRef } from './iscsi.ts';

export class KernelIscsiConnector implements ProtocolConnector<IscsiConnectionInfo> {
  readonly #deps: ConnectorDeps;
  #iscsi: IscsiConnector | null = null;

  constructor(deps: ConnectorDeps) {
    this.#deps = deps;
  }

  /** Made on first use: whether it uses multipath is what the host's properties said then. */
  async #engine(span: Span): Promise<IscsiConnector> {
    if (this.#iscsi) return this.#iscsi;
    const { host, enforceMultipath, logger, timeouts, iscsiNodesDir, nodeRecordFiles } = this.#deps;
    const { multipath } = await this.#deps.props(span);
    this.#iscsi ??= new IscsiConnector({
      host,
      multipath,
      enforceMultipath,
      ...(logger ? { logger } : {}),
      ...(timeouts ? { timeouts } : {}),
      ...(iscsiNodesDir ? { iscsiNodesDir } : {}),
      nodeRecordFiles,
    });
    return this.#iscsi;
  }

  async connect(info: IscsiConnectionInfo, span: Span): Promise<AttachedVolume> {
    const volume = iscsiVolume(info.data);
    const device = await (await this.#engine(span)).connectValidated(span, volume);
    return { source: { kind: 'block', path: devicePath(await this.#stablePath(device, volume)) }, deviceInfo: device };
  }

  /**
   * A link only where it exists now and names the device brick found: brick takes a map as soon
   * as sysfs shows it over the disk, and udev makes the map's `dm-uuid-mpath-` link a moment later
   * (0.4–0.9 s on the storage host guest). Until then the kernel's own name (`/dev/dm-N`, what
   * os-brick hands Nova) is the one that opens; waiting for the link would put udev on the path.
   */
  async #stablePath(d: BlockDeviceInfo, volume: IscsiVolume): Promise<string> {
    const { host } = this.#deps;
    const links = d.multipath_id ? [`/dev/disk/by-id/dm-uuid-mpath-${d.multipath_id}`] : volume.targets.map((t) => byPathLink(t));
    for (const link of links) {
      if ((await host.exists(link)) && (await host.realpath(link)) === d.path) return link;
    }
    return d.path;
  }

  async disconnect(info: IscsiConnectionInfo, span: Span, opts: { readonly force: boolean }): Promise<void> {
    const volume = iscsiVolume(info.data);
    await (await this.#engine(span)).disconnectValidated(span, volume, { force: opts.force, ignoreErrors: opts.force });
  }

  /** Each path rescanned, then the map resized (`iscsi-extend.ts`). */
  async extend(info: IscsiConnectionInfo, span: Span): Promise<HostExtendOutcome> {
    const volume = iscsiVolume(info.data);
    const { multipath } = await this.#deps.props(span);
    const { host, logger } = this.#deps;
    return span.run('extend_volume', { volume_id: volume.volumeId ?? '', paths: volume.targets.length }, async (s) => {
      const r = await extendIscsiVolume({ host, span: s, ...(logger ? { logger } : {}) }, volume, { multipath });
      s.set({ size_bytes: r.sizeBytes });
      return { sizeBytes: r.sizeBytes };
    });
  }

  /** Mappings whose connection does not read are skipped: nothing was ever connected from them. */
  async reap(span: Span, opts: { readonly keep: () => Promise<readonly IscsiConnectionInfo[]>; readonly adopt: readonly IscsiConnectionInfo[] }): Promise<ReapOutcome> {
    const adopt = targetsOf(opts.adopt);
    // Nothing to adopt and never used: this connector has left nothing on the host.
    if (!this.#iscsi && adopt.length === 0) return { reaped: [], failures: [], pending: [] };
    const r = await (await this.#engine(span)).reap(span, { keep: async () => targetsOf(await opts.keep()), adopt });
    return { reaped: r.reaped, failures: r.failures, pending: r.pending ?? [] };
  }

  async settled(): Promise<void> {
    await this.#iscsi?.settled();
  }
}

function targetsOf(infos: readonly IscsiConnectionInfo[]): TargetRef[] {
  return infos.flatMap((ci) => {
    try {
      return iscsiVolume(ci.data).targets;
    } catch {
      return [];
    }
  });
}
