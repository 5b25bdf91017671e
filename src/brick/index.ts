/**
 * Brick: Hitch's host-side storage initiator library (os-brick's job), on the Host port only.
 * It implements the host connector port the compute service calls, once per compute host:
 * ```ts
 * const brick = new Brick({ host, ip: '172.16.1.11', multipath: true });
 * const connector = await brick.connectorProperties(span);                  // seed step 4
 * const attached = await brick.connect(info, span, { instance: serverId });  // step 6
 * // attached.source: the disk for the hypervisor; attached.deviceInfo: keep it for the disconnect
 * await brick.disconnect(info, attached.deviceInfo, span, { force: false });
 * ```
 * `info` is a `ConnectionInfo` (`parseConnectionInfo` reads one from JSON). One `Brick` per host:
 * its connectors own the per-target locks and the record of which LUNs are in use.
 */
import { HitchError } from '../errors.ts';
import type { ConnectionInfo, ConnectionInfos, ConnectorProperties, DeviceInfo, Protocol } from '../ports/attach.ts';
import type { Host } from '../ports/host.ts';
import type { AttachedVolume, ConnectOptions, DisconnectOptions, HostExtendOutcome, HostVolumeConnector, ReapOptions, ReapOutcome } from '../ports/host-connector.ts';
import type { Span } from '../ports/span.ts';
import { getConnectorProperties } from './connector-properties.ts';
import type { AttachMode, ConnectorDeps, ProtocolConnector } from './connector.ts';
import type { IscsiTimeouts } from './connectors/iscsi.ts';
import type { NvmeTimeouts } from './connectors/nvme-tcp.ts';
import type { BrickLogger } from './log.ts';
import { PROTOCOLS, secretUsageOf } from './protocols.ts';

export type { AttachMode } from './connector.ts';

export interface BrickOptions {
  readonly host: Host;
  /** Nova's `my_ip`: the address reported to the storage. */
  readonly ip: string;
  /** Nova's `volume_use_multipath`. */
  readonly multipath: boolean;
  readonly enforceMultipath?: boolean;
  /** `kernel` (the host's initiator, a host block device) or `qemu-native` (QEMU opens the LUN). */
  readonly mode?: AttachMode;
  readonly logger?: BrickLogger;
  readonly timeouts?: Partial<IscsiTimeouts>;
  /** NVMe/TCP's bounds (`nvme connect` per portal, the namespace's device, the subsystem gone). */
  readonly nvmeTimeouts?: Partial<NvmeTimeouts>;
  /** open-iscsi's node record directory (default `/etc/iscsi/nodes`; see `IscsiConnectorOptions`). */
  readonly iscsiNodesDir?: string;
  /**
   * How long connector properties are reused, on the host's clock (default
   * `CONNECTOR_PROPERTIES_TTL_MS`; 0 reads them every time, as os-brick does).
   */
  readonly connectorPropertiesTtlMs?: number;
  /**
   * Write open-iscsi node records as files rather than with `iscsiadm -o new/update` (default
   * false: on a real host a record file written during another `iscsiadm --login` breaks that
   * login; see `IscsiConnectorOptions.nodeRecordFiles` and src/brick/README.md).
   */
  readonly nodeRecordFiles?: boolean;
}

/**
 * Connector properties are reused for a minute. Reading them costs two processes
 * (`multipathd show status`, `systool -c fc_host -v`) and a file read, and Nova asks for them
 * on every attach and detach; what they describe — the initiator name, the FC ports, whether
 * multipathd runs — changes when an operator reconfigures the host, not between two attaches.
 * Within the minute a change is seen late: an attach reports the old values (an export to an
 * old initiator name fails its login, a stopped multipathd leaves the volume on one path, as
 * when the map cannot be built). A connect that fails drops the cached values, so the retry
 * reads the host afresh.
 */
export const CONNECTOR_PROPERTIES_TTL_MS = 60_000;

export class Brick implements HostVolumeConnector {
  readonly #opts: BrickOptions;
  readonly #mode: AttachMode;
  #props: ConnectorProperties | null = null;
  /** Host-clock time `#props` were read; null: read them again on the next call. */
  #propsAt: number | null = null;
  /** One connector per protocol, made on first use (with the properties then known). */
  readonly #connectors = new Map<Protocol, ProtocolConnector>();

  constructor(opts: BrickOptions) {
    this.#opts = opts;
    this.#mode = opts.mode ?? 'kernel';
  }

  /**
   * Seed step 4. Reused for `connectorPropertiesTtlMs` (see `CONNECTOR_PROPERTIES_TTL_MS`);
   * the first connect also decides, for its connector's life, whether multipath is usable.
   *
   * In QEMU-native mode "multipath" means "QEMU may use any portal", not a device-mapper map:
   * the storage must list every portal whether or not multipathd runs (it cannot, on a host
   * without device-mapper), so the property is true there. In kernel mode multipathd decides.
   */
  async connectorProperties(span: Span): Promise<ConnectorProperties> {
    const { host, ip, multipath, enforceMultipath, logger } = this.#opts;
    const ttl = this.#opts.connectorPropertiesTtlMs ?? CONNECTOR_PROPERTIES_TTL_MS;
    const now = host.clock.now();
    if (this.#props && this.#propsAt !== null && now - this.#propsAt < ttl) {
      span.event('get_connector_properties', { host: host.name, cached: true, age_ms: now - this.#propsAt });
      return this.#props;
    }
    const props = await getConnectorProperties(host, span, {
      ip,
      multipath,
      ...(enforceMultipath !== undefined ? { enforceMultipath } : {}),
      ...(logger ? { logger } : {}),
    });
    this.#props = this.#mode === 'qemu-native' ? { ...props, multipath: true } : props;
    this.#propsAt = now;
    return this.#props;
  }

  /** The connector for `protocol` in this host's mode (`HITCH_UNSUPPORTED_PROTOCOL` when there is none). */
  #connector<P extends Protocol>(protocol: P): ProtocolConnector<ConnectionInfos[P]> {
    const made: ProtocolConnector<ConnectionInfos[P]> | undefined = this.#connectors.get(protocol);
    if (made) return made;
    const make = PROTOCOLS[protocol].connectors[this.#mode];
    if (!make) throw new HitchError('HITCH_UNSUPPORTED_PROTOCOL', { protocol: `${protocol} (attach mode ${this.#mode})` });
    const { host, logger, timeouts, nvmeTimeouts, iscsiNodesDir } = this.#opts;
    const deps: ConnectorDeps = {
      host,
      props: async (s) => this.#props ?? (await this.connectorProperties(s)),
      enforceMultipath: this.#opts.enforceMultipath ?? false,
      nodeRecordFiles: this.#opts.nodeRecordFiles ?? false,
      ...(logger ? { logger } : {}),
      ...(timeouts ? { timeouts } : {}),
      ...(nvmeTimeouts ? { nvmeTimeouts } : {}),
      ...(iscsiNodesDir ? { iscsiNodesDir } : {}),
    };
    const connector = make(deps);
    this.#connectors.set(protocol, connector);
    return connector;
  }

  /** Seed step 6: connect the volume; the disk source is what the hypervisor plugs. */
  async connect(info: ConnectionInfo, span: Span, opts: ConnectOptions): Promise<AttachedVolume> {
    try {
      return await this.#connector(info.driver_volume_type).connect(info, span, { instance: opts.instance });
    } catch (e) {
      // The host may not be what the cached properties say: read it again next time.
      this.#propsAt = null;
      throw e;
    }
  }

  /** The reverse of `connect`. `deviceInfo` is not needed: brick looks at what the host has. */
  async disconnect(info: ConnectionInfo, _deviceInfo: DeviceInfo | null, span: Span, opts: DisconnectOptions): Promise<void> {
    await this.#connector(info.driver_volume_type).disconnect(info, span, { force: opts.force });
  }

  /** os-brick's `extend_volume`: the host re-reads the grown volume's size (see the connector's). */
  async extend(info: ConnectionInfo, span: Span): Promise<HostExtendOutcome> {
    return this.#connector(info.driver_volume_type).extend(info, span);
  }

  secretUsage(info: ConnectionInfo, instance: string): string | null {
    return secretUsageOf(info.driver_volume_type, info, instance);
  }

  /**
   * The safety net under every cleanup: remove node records, sessions, disks and maps that this
   * Brick left on the host for connections no attachment needs. `keep` gives the connection of
   * every mapping on this host (attached or in flight) and is asked for only when there is
   * something to reap; `adopt` names connections to take ownership of first (what crash recovery
   * found in the journal: a new process knows nothing of what the last one left).
   */
  async reap(span: Span, opts: ReapOptions): Promise<ReapOutcome> {
    const reaped: string[] = [];
    const failures: string[] = [];
    const pending: string[] = [];
    // Every protocol with a connector, or connections to adopt; a protocol never used here has nothing to reap.
    const adopting = new Set((opts.adopt ?? []).map((ci) => ci.driver_volume_type));
    for (const protocol of Object.keys(PROTOCOLS) as Protocol[]) {
      if (!this.#connectors.has(protocol) && !adopting.has(protocol)) continue;
      const r = await this.#reapProtocol(protocol, span, opts);
      reaped.push(...r.reaped);
      failures.push(...r.failures);
      pending.push(...r.pending);
    }
    return { reaped, failures, pending };
  }

  async #reapProtocol<P extends Protocol>(protocol: P, span: Span, opts: ReapOptions): Promise<ReapOutcome> {
    const mine = (cis: readonly ConnectionInfo[]): Array<ConnectionInfos[P]> => cis.filter((ci): ci is ConnectionInfos[P] => ci.driver_volume_type === protocol);
    const connector = this.#connector(protocol);
    return connector.reap(span, { keep: async () => mine(await opts.keep()), adopt: mine(opts.adopt ?? []) });
  }

  /** Resolves when background portal work (late logins joining maps, failed portals' cleanup) is done. */
  async settled(): Promise<void> {
    await Promise.all([...this.#connectors.values()].map((c) => c.settled()));
  }
}

export { parseConnectionInfo, readConnectionInfo, PROTOCOLS } from './protocols.ts';
export { parseDeviceInfo } from './device-info.ts';
